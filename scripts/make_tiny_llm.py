"""Make the built-in tiny LLM: a random-weight Llama-style decoder in OpenVINO IR.

Speed tests of a text-generation pipeline do not depend on what the weights
say, so a tiny randomly initialised decoder (2 layers, hidden size 64, 4 heads,
2 KV heads, a ~1000-token byte-level BPE vocabulary, 4096 positions) stands in
for a real LLM: ``openvino_genai.LLMPipeline(folder, "CPU")`` loads it offline
and ``generate`` runs in milliseconds. Everything is made here, offline and
deterministically (fixed seeds, sorted inputs); nothing comes from a model hub.

Writes ``src/inferperf/model/data/tiny-llm/`` (``--preset tiny-qwen2 --out
src/inferperf/model/data/tiny-qwen2`` and ``--preset tiny-phi3 --out .../tiny-phi3`` make the same
stack as Qwen2 and Phi-3 models: ``zoo:tiny-qwen2``, ``zoo:tiny-phi3``; ``--preset qwen2.5-0.5b`` the
0.5B Qwen2 shape into a folder of your choice):

* ``openvino_model.xml/.bin``: the decoder, fp32, stateful KV cache
  (optimum-intel's ``text-generation-with-past`` export);
* ``openvino_tokenizer.xml/.bin``, ``openvino_detokenizer.xml/.bin``: the
  tokenizer converted by openvino-tokenizers;
* ``config.json``, ``generation_config.json``, ``tokenizer_config.json``,
  ``special_tokens_map.json``: the small JSON files GenAI reads.

The tokenizer is trained on the docstrings (module, class and function) of the
top-level ``*.py`` files of the Python standard library of the interpreter
that runs this script (``sysconfig.get_paths()["stdlib"]``, files in sorted
order, read with ``ast.get_docstring``). Made with CPython 3.11; another Python
version gives slightly different merges, which changes nothing that matters.

Needs its own virtual environment, so that the project's stays as it is; install
everything in ONE pip command so that torch stays the CPU build::

    python3 -m venv /tmp/llm-export-venv
    /tmp/llm-export-venv/bin/pip install "torch==2.13.0" transformers tokenizers \\
        "optimum-intel[openvino]" "openvino==2026.4.1" "openvino-tokenizers==2026.4.1.*"
    /tmp/llm-export-venv/bin/python scripts/make_tiny_llm.py

(torch 2.13.0 is a CPU build on this machine's local wheel store; another
version can pull a multi-GB CUDA build. openvino-tokenizers must match the
openvino version. If anything pulls in torchvision, ``pip uninstall -y
torchvision`` in that venv: beside this CPU torch it fails to import and breaks
``import transformers``.)
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/inferperf/model/data/tiny-llm"

SEED = 0
VOCAB_SIZE = 1024  # 256 byte symbols + 4 special tokens + merges
BOS, EOS, UNK, PAD = "<s>", "</s>", "<unk>", "<pad>"
SPECIALS = [UNK, BOS, EOS, PAD]  # ids 0..3

MODEL = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
}

# What GenAI's LLMPipeline reads; everything else the export writes is dropped.
KEEP = {
    "openvino_model.xml",
    "openvino_model.bin",
    "openvino_tokenizer.xml",
    "openvino_tokenizer.bin",
    "openvino_detokenizer.xml",
    "openvino_detokenizer.bin",
    "config.json",
    "generation_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
}


# Kept from the Hugging Face folder, so transformers loads the same weights (generate's cross-check).
HF_KEEP = {"model.safetensors", "tokenizer.json"}


def stdlib_docstrings() -> Iterator[str]:
    """Docstrings of the top-level stdlib modules, their classes and functions."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    yield doc


def train_tokenizer(tmp: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(stdlib_docstrings())
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    # Like Llama: a BOS token before each text, nothing after.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS} $B",
        special_tokens=[(BOS, bos_id)],
    )
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        model_max_length=MODEL["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )
    hf.save_pretrained(tmp)
    print(f"tokenizer: {len(hf)} tokens, trained on {len(texts)} stdlib docstrings")
    return hf


# Presets: the committed tiny model, and Qwen2.5-0.5B's transformer stack (24 layers, hidden 896, 14 heads,
# 2 KV heads, MLP 4864) with this 1k vocabulary: 0.36 B parameters, 1.4 GB at fp32, for decode figures
# where weight traffic dominates; and TinyLlama-1.1B's stack (22 layers, hidden 2048, 32 heads, 4 KV heads,
# MLP 5632, 2048 positions): 0.97 B parameters, 3.9 GB at fp32 (both built into build/, never committed).
QWEN25_05B = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": True,
}
PRESETS: dict[str, dict] = {
    "tiny": MODEL,
    # The same tiny stack in the other two families the zoo covers: Qwen2 (bias on q/k/v, its own RoPE
    # base) and Phi-3 (fused qkv and gate/up projections, partial config names of its own).
    "tiny-qwen2": {**MODEL, "arch": "qwen2", "rope_theta": 1000000.0},
    "tiny-phi3": {**MODEL, "arch": "phi3", "original_max_position_embeddings": 4096},
    "qwen2.5-0.5b-stack": QWEN25_05B,
    "qwen2.5-0.5b": {**QWEN25_05B, "arch": "qwen2"},  # the real architecture (Qwen2: q/k/v biases)
    # Phi-3-mini's layer (hidden 3072, MLP 8192, 32 heads of 96, no grouped KV) with 8 of its 32 layers:
    # 0.91 B parameters, the realistic Phi-3 size this VM exports (the full 3.8 B is 15 GB at fp32).
    "phi-3-mini-8-layers": {
        "arch": "phi3",
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 8,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 4096,
        "original_max_position_embeddings": 4096,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
    },
    "tinyllama-1.1b-stack": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 22,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "max_position_embeddings": 2048,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
    },
}


def build_model(tmp: Path, tokenizer, preset: str = "tiny") -> None:
    import torch
    import transformers
    from transformers import GenerationConfig

    shape = dict(PRESETS[preset])
    arch = shape.pop("arch", "llama")
    names = {"llama": "Llama", "qwen2": "Qwen2", "phi3": "Phi3"}[arch]
    torch.manual_seed(SEED)
    config = getattr(transformers, f"{names}Config")(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **shape,
    )
    model = getattr(transformers, f"{names}ForCausalLM")(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
        max_new_tokens=16,
    )
    model.save_pretrained(tmp)
    n = sum(p.numel() for p in model.parameters())
    print(f"model: {n:,} parameters")


def export(tmp: Path, out_tmp: Path) -> None:
    from optimum.exporters.openvino import main_export
    from optimum.intel import OVConfig

    main_export(
        model_name_or_path=str(tmp),
        output=out_tmp,
        task="text-generation-with-past",
        ov_config=OVConfig(dtype="fp32"),
        stateful=True,
        convert_tokenizer=True,
        local_files_only=True,
    )
    if not (out_tmp / "openvino_tokenizer.xml").exists():  # optimum skipped it: convert directly
        import openvino as ov
        from openvino_tokenizers import convert_tokenizer
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(tmp)
        ov_tok, ov_detok = convert_tokenizer(hf, with_detokenizer=True)
        ov.save_model(ov_tok, out_tmp / "openvino_tokenizer.xml")
        ov.save_model(ov_detok, out_tmp / "openvino_detokenizer.xml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    args = parser.parse_args()

    # Fully offline: never reach a model hub (set before transformers is imported).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    import random

    import numpy as np
    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)

    with tempfile.TemporaryDirectory(prefix="tiny-llm-") as work:
        hf_dir = Path(work) / "hf"
        ov_dir = Path(work) / "ov"
        tokenizer = train_tokenizer(hf_dir)
        build_model(hf_dir, tokenizer, args.preset)
        export(hf_dir, ov_dir)

        missing = sorted(KEEP - {p.name for p in ov_dir.iterdir()})
        if missing:
            raise SystemExit(f"export did not write {missing}")
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True)
        for name in sorted(KEEP):
            shutil.copyfile(ov_dir / name, args.out / name)
        for name in sorted(HF_KEEP):
            shutil.copyfile(hf_dir / name, args.out / name)

    # Stable JSON (sorted keys) so that a rerun gives the same files.
    for name in ("config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json"):
        path = args.out / name
        data = json.loads(path.read_text())
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    total = 0
    for path in sorted(args.out.iterdir()):
        size = path.stat().st_size
        total += size
        print(f"{size:>10,}  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"{total:>10,}  total")


if __name__ == "__main__":
    main()
