"""Lab 3: skip-gram pairs whose window includes offset 0, so each word is its own context."""

BUGS = {
    "skipgram_pairs": """\
def skipgram_pairs(sentences, window):
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    tensors = [torch.as_tensor(s, dtype=torch.long) for s in sentences]
    tokens = torch.cat(tensors)
    dev, n = tokens.device, tokens.numel()
    lengths = torch.tensor([len(t) for t in tensors], device=dev)
    sentence_of = torch.repeat_interleave(torch.arange(len(tensors), device=dev), lengths)
    offsets = torch.arange(-window, window + 1, device=dev)  # the bug: offset 0 is included
    positions = torch.arange(n, device=dev)[:, None] + offsets
    clamped = positions.clamp(0, max(n - 1, 0))
    valid = (positions >= 0) & (positions < n) & (sentence_of[clamped] == sentence_of[:, None])
    return tokens[:, None].expand_as(positions)[valid], tokens[clamped][valid]
""",
}
# only the pairs' own test loses points: no other graded cell uses skipgram_pairs
FAILS = {"skipgram_pairs_tests"}
