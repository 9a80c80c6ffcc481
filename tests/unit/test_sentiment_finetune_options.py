"""Fine-tuning options that exist for unseen-domain accuracy: token dropout and LP-FT."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")


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
    from transformers import BertConfig, BertForSequenceClassification

    from trustscope.sentiment.finetune import FinetuneConfig, _linear_probe

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32, num_labels=2))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    seqs = [[2] + [random.Random(i).randrange(5, 50) for _ in range(6)] + [3] for i in range(40)]
    labels = [i % 2 for i in range(40)]
    cfg = FinetuneConfig(batch_size=8, probe_epochs=1.0)
    model.train()
    _linear_probe(model, seqs, labels, cfg, random.Random(0), 0, "cpu", lambda _m: None)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(("bert.pooler", "classifier")) for n in changed)
    assert all(p.requires_grad for p in model.parameters())  # everything trains afterwards
