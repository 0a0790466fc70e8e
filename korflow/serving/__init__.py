"""What a registered model ships with it: the predictors (raw text in, labels or answers out),
their MLflow pyfunc wrappers and the model folder format. Imports no Prefect, no CLI and no
reports, so a model loads wherever torch, MLflow and the Korean tokenizer are installed."""
