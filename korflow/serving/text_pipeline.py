"""What the predictors share: a trained model rebuilt from its folder, with the cleaning and the
tokenizer it was trained with, so that any raw text becomes the ids the model reads."""

from __future__ import annotations

from pathlib import Path

import torch

from korean.clean import CleanConfig, Cleaner
from korean.morphemes import TokenizerConfig, get_tokenizer
from korflow.serving import model_folder
from models.data import Vocab
from models.train import GLOBAL_RNG


class TextPipeline:
    """A predictor's model, cleaning, tokenizer and encoding; a subclass says how its model is
    built (``build``) and how cleaned text splits into vocabulary units (``units``)."""

    MAX_CHARS = 2000  # an input is cut to this many characters unless the config says otherwise

    def __init__(self, config: dict, vocab: Vocab, state: dict[str, torch.Tensor]) -> None:
        self.config, self.vocab = config, vocab
        # Built with the random state put back after it, then given the trained weights, and
        # never while a training in this process draws from that state (GLOBAL_RNG): loading
        # a model shifts no training, before, beside or after it. Not on the meta device: its
        # initialisers go through torch._refs, which imports TorchDynamo (1.2 s of each
        # `korflow predict`), where the CPU draws the few random weights in 0.05 s.
        with GLOBAL_RNG, torch.random.fork_rng(devices=[]):
            self.model = self.build({**config["model"], "vocab_size": len(vocab)})
        self.model.load_state_dict(state, assign=True)
        self.model.eval()
        self.clean = Cleaner(CleanConfig(**config["clean"]))
        self.tokenizer = get_tokenizer(TokenizerConfig(**config["tokenizer"]))
        self.max_len = int(config["max_len"])
        self.max_chars = int(config.get("max_chars", self.MAX_CHARS))

    def build(self, model_config: dict) -> torch.nn.Module:
        raise NotImplementedError

    def units(self, text: str) -> list[str]:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: str | Path) -> TextPipeline:
        return cls(*model_folder.read(folder))

    def cleaned(self, text: str | None) -> str:
        """Any input (empty, emoji, other scripts, very long) as the cleaned text it reads."""
        return self.clean("" if text is None else str(text)[: self.max_chars])

    def encode(self, text: str | None) -> list[int]:
        """Any input gives a valid id sequence."""
        return self.vocab.encode(self.units(self.cleaned(text)), self.max_len)
