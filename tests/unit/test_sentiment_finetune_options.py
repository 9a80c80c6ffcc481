"""Fine-tuning options that exist for unseen-domain accuracy: token dropout, LP-FT, weight averaging, R-Drop."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")


def tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32, num_labels=2))


def tiny_checkpoint(tmp_path):
    """A seeded ``tiny_bert`` saved as ``tmp_path/init`` and a tokenizer over its few characters."""
    from transformers import BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "好", "差", "很", "不"]) + "\n")
    torch.manual_seed(0)
    tiny_bert().save_pretrained(str(tmp_path / "init"))
    return BertTokenizerFast(vocab_file=str(vocab))


def test_token_dropout_masks_only_text_tokens():
    from trustscope.sentiment.finetune import mask_tokens

    ids = torch.tensor([[2, 10, 11, 12, 13, 3, 0, 0], [2, 20, 21, 3, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    gen = torch.Generator().manual_seed(0)
    out = mask_tokens(ids, mask, 1.0, 4, gen)  # prob 1: every text token, nothing else
    assert out.tolist() == [[2, 4, 4, 4, 4, 3, 0, 0], [2, 4, 4, 3, 0, 0, 0, 0]]
    assert torch.equal(mask_tokens(ids, mask, 0.0, 4, gen), ids)

    big = torch.randint(5, 100, (64, 50))
    big[:, 0], big[:, -1] = 2, 3
    share = (mask_tokens(big, torch.ones_like(big), 0.15, 4, gen) == 4).float().mean().item()
    assert 0.12 < share < 0.17  # 15% of the 48 inner tokens per row


def test_linear_probe_trains_only_the_head():
    from trustscope.sentiment.finetune import FinetuneConfig, _linear_probe

    torch.manual_seed(0)
    model = tiny_bert()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    seqs = [[2] + [random.Random(i).randrange(5, 50) for _ in range(6)] + [3] for i in range(40)]
    labels = [i % 2 for i in range(40)]
    cfg = FinetuneConfig(batch_size=8, probe_epochs=1.0)
    model.train()
    _linear_probe(model, seqs, labels, cfg, random.Random(0), 0, "cpu", lambda _m: None)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(("bert.pooler", "classifier")) for n in changed)
    assert all(p.requires_grad for p in model.parameters())  # everything trains afterwards


def test_first_pass_trains_on_the_unseen_part_alone_before_epochs_over_all():
    """A continued run (bench_sentiment_continue --split random) sees its new reviews first."""
    from trustscope.sentiment.finetune import _steps, _training_batches

    seqs = [[2] + [5 + i % 7] * (1 + i % 5) + [3] for i in range(50)]
    labels = [1] * 20 + [0] * 30  # the first 20 are "unseen": label 1 marks them
    first = _steps(20, 8, 1.0)
    steps = first + _steps(50, 8, 1.0)
    batches = list(_training_batches(seqs, labels, 8, random.Random(0), steps, 0, first_pass=20))
    assert len(batches) == steps == 3 + 7
    assert sum(len(b[2]) for b in batches[:first]) == 20
    assert all(b[2].tolist() == [1] * len(b[2]) for b in batches[:first])
    rest = torch.cat([b[2] for b in batches[first:]])
    assert len(rest) == 50 and int(rest.sum()) == 20  # then one epoch over all 50
    plain = list(_training_batches(seqs, labels, 8, random.Random(0), 7, 0))
    assert sum(len(b[2]) for b in plain) == 50


def test_mlm_adaptation_head_is_tied_to_the_encoder_and_starts_as_identity():
    """bench_sentiment_mlm_adapt: the MLM loss trains the classifier's own word embeddings."""
    from tests.bench_loader import load_bench

    bench = load_bench("bench_sentiment_mlm_adapt")
    torch.manual_seed(0)
    model = tiny_bert()
    head = bench.mlm_head(model)
    assert head.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    h = torch.randn(3, 16)
    assert torch.allclose(head.predictions.transform.dense(h), h)
    before = model.bert.embeddings.word_embeddings.weight.detach().clone()
    hidden = model.bert(input_ids=torch.tensor([[2, 7, 4, 3]])).last_hidden_state[0]
    loss = torch.nn.functional.cross_entropy(head(hidden), torch.tensor([2, 7, 9, 3]))
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(model.bert.embeddings.word_embeddings.weight, before)

    it = bench.batches([[1]] * 10, 4, random.Random(0))
    first_pass = [next(it), next(it)]
    assert all(len(b) == 4 for b in first_pass) and len({i for b in first_pass for i in b}) == 8


def test_domain_sets_keep_the_test_sample_and_probes_out_of_the_unlabelled_pool():
    """The adaptation benches train on ``pool`` and ``source``: neither may hold what scores them."""
    from tests.bench_loader import load_bench
    from trustscope.sentiment.data import Review
    from trustscope.sentiment.transfer import HELD_OUT

    bench = load_bench("bench_sentiment_continue")
    reviews = [Review(id=f"{d}-{i}", domain=d, label=i % 2, text=f"t{i}")
               for d in HELD_OUT for i in range(3600)]
    reviews += [Review(id=f"o-{i}", domain="shopping/书籍", label=i % 2, text=f"o{i}") for i in range(13500)]
    dom = HELD_OUT[0]
    sets = bench.domain_sets(reviews, dom)
    scored = {r.id for r in sets.test} | {r.id for r in sets.probes}
    assert len(sets.test) == 3000 and len(sets.probes) == 400
    assert not scored & {r.id for r in sets.pool} and len(sets.pool) == 200
    assert {r.domain for r in sets.source} == {d for d in HELD_OUT if d != dom} | {"shopping/书籍"}
    assert not {r.id for r in sets.val} & {r.id for r in sets.source} and len(sets.val) == 1000


def test_save_checkpoint_writes_the_prior_only_when_given(tmp_path):
    import json

    from transformers import BertTokenizerFast

    from tests.bench_loader import load_bench

    bench = load_bench("bench_sentiment_continue")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "好", "差"]) + "\n")
    tok = BertTokenizerFast(vocab_file=str(vocab))
    bench.save_checkpoint(tiny_bert(), tok, tmp_path / "last")
    bench.save_checkpoint(tiny_bert(), tok, tmp_path / "best", 0.4)
    assert (tmp_path / "last" / "config.json").exists() and (tmp_path / "last" / "tokenizer.json").exists()
    assert not (tmp_path / "last" / "prior.json").exists()
    assert json.loads((tmp_path / "best" / "prior.json").read_text()) == {"train_prior": 0.4}


def test_tail_weight_average_is_the_mean_of_the_weights_after_each_late_step(tmp_path):
    """``average_from``: the model scored beside the live one is the running mean from that progress on."""
    from trustscope.sentiment.data import Review
    from trustscope.sentiment.finetune import FinetuneConfig, finetune

    tok = tiny_checkpoint(tmp_path)
    train = [Review(id=str(i), domain="d", label=i % 2, text=("很好" if i % 2 else "不差") * (1 + i % 3))
             for i in range(64)]
    cfg = FinetuneConfig(epochs=1.0, batch_size=8, lr=1e-2, eval_every=4, patience=100, average_from=0.5)
    seen: list[dict] = []

    def average_score_fn(averaged):
        seen.append({n: p.detach().clone() for n, p in averaged.named_parameters()})
        return {"score": 0.5}

    model, info = finetune(tmp_path / "init", tok, train, [], None, cfg, log=lambda _m: None,
                           score_fn=lambda m: (0.5, {}), average_score_fn=average_score_fn)
    assert info["steps"] == 8
    tail = [h["average"]["steps"] for h in info["history"] if "average" in h]
    assert tail == [1, 5]  # progress 0.5 is reached at step 4: steps 4..8 averaged
    live = dict(model.named_parameters())  # best == first score, so the model is step 4's weights
    first_avg = seen[0]
    assert all(torch.allclose(first_avg[n], live[n]) for n in first_avg)  # a mean of one step is that step
    assert any(not torch.allclose(seen[1][n], first_avg[n]) for n in first_avg)


def test_rdrop_loss_is_the_task_loss_when_both_passes_agree_and_grows_with_their_disagreement():
    """R-Drop: the KL term is zero for identical halves, symmetric, and weighted by alpha."""
    from trustscope.sentiment.finetune import rdrop_loss

    ce = torch.nn.CrossEntropyLoss()
    y = torch.tensor([0, 1, 1])
    a = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.5]])
    b = torch.tensor([[0.0, 1.0], [1.5, -0.3], [-0.2, 0.1]])
    same = rdrop_loss(torch.cat([a, a]), y, ce, alpha=5.0)
    assert torch.allclose(same, ce(a, y))
    ab, ba = rdrop_loss(torch.cat([a, b]), y, ce, 1.0), rdrop_loss(torch.cat([b, a]), y, ce, 1.0)
    assert torch.allclose(ab, ba)
    task = 0.5 * (ce(a, y) + ce(b, y))
    kl = ab - task
    assert kl > 0
    assert torch.allclose(rdrop_loss(torch.cat([a, b]), y, ce, 0.5), task + 0.5 * kl)


def test_rdrop_training_runs_two_dropout_passes_per_batch(tmp_path, monkeypatch):
    """With ``rdrop_alpha`` the model sees every batch twice in one forward (a doubled batch)."""
    from transformers import BertForSequenceClassification

    from trustscope.sentiment.data import Review
    from trustscope.sentiment.finetune import FinetuneConfig, finetune

    tok = tiny_checkpoint(tmp_path)
    train = [Review(id=str(i), domain="d", label=i % 2, text="很好" if i % 2 else "不差") for i in range(32)]
    rows: list[int] = []
    original = BertForSequenceClassification.forward

    def counting_forward(self, input_ids=None, **kw):
        rows.append(int(input_ids.shape[0]))
        return original(self, input_ids=input_ids, **kw)

    monkeypatch.setattr(BertForSequenceClassification, "forward", counting_forward)
    cfg = FinetuneConfig(epochs=1.0, batch_size=8, lr=1e-3, eval_every=100, patience=100, rdrop_alpha=0.5)
    _, info = finetune(tmp_path / "init", tok, train, [], None, cfg, log=lambda _m: None,
                       score_fn=lambda m: (0.5, {}))
    assert info["steps"] == 4
    assert rows[:4] == [16, 16, 16, 16]  # 8 texts, twice
