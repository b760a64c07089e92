"""The printed table of `make bench`: every figure of bench/results.json, grouped."""

from __future__ import annotations


def _f(value: object, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _head(*cells: str) -> list[str]:
    return ["", _row(*cells), "|" + "---|" * len(cells)]


def table(results: dict) -> str:
    """Markdown tables (they read well in a terminal and paste into the README as they are)."""
    machine = results["machine"]
    lines = [
        f"machine: {machine['cpus']} cores, no GPU, load average {machine['loadavg_start']} at start; "
        f"total {_f(results.get('total_s'), 0)} s"
    ]
    ingest = results.get("ingest", {})
    if ingest:
        lines += _head("ingest", "docs", "chunks", "sentences", "build s", "raw encoder s", "overhead",
                       "overhead (same run)", "chunks-only encoder s", "build / chunks-only",
                       "chunks/s")  # fmt: skip
        for name, row in ingest.items():
            lines.append(_row(name, _f(row["documents"]), _f(row["chunks"]), _f(row["sentences"]),
                              _f(row["build_s"]), _f(row["raw_encode_s"]), _f(row["overhead"], 3),
                              _f(row.get("overhead_same_run"), 3), _f(row["raw_chunks_only_s"]),
                              _f(row["vs_chunks_only"], 3), _f(row["chunks_per_s"], 1)))  # fmt: skip
    if "query" in results:
        query = results["query"]
        lines += _head("query (warm, one process)", "p50 ms", "p95 ms")
        for name in ("retrieve", "ask"):
            lines.append(_row(f"{name}()", _f(query[name]["p50_ms"]), _f(query[name]["p95_ms"])))
        lines += [
            "",
            f"{query['questions']} questions, k={query['k']}; hit@k {_f(query.get('hit_at_k'), 3)}; "
            f"cold start to first answer {_f(query['cold_start_s'])} s "
            f"(median of {len(query['samples_s'])}); "
            f"peak RSS {_f(query['peak_rss_mb'], 0)} MB",
        ]
    peers = [(name, results[name]) for name in ("langchain", "llamaindex") if name in results]
    if peers:
        ours = dict(results.get("ingest", {}).get("squad", {}))
        ours["build_s"] = peers[0][1].get("rag_build_s", ours.get("build_s"))  # the build the ratios used
        lines += _head("system", "chunks", "build s", "query p50 ms", "query p95 ms", "hit@k", "peak RSS MB",
                       "build speedup", "query speedup")  # fmt: skip
        lines.append(_row("rag", f"{_f(ours.get('chunks'))} (+{_f(ours.get('sentences'))} sentences)",
                          _f(ours.get("build_s")), _f(results.get("retrieve_p50_ms")),
                          _f(results.get("retrieve_p95_ms")),
                          _f(results.get("query", {}).get("hit_at_k"), 3),
                          _f(results.get("peak_rss_mb"), 0), 1, 1))  # fmt: skip
        for name, row in peers:
            if "skipped" in row:
                lines.append(_row(name, f"skipped: {row['skipped']}"))
                continue
            lines.append(_row(name, _f(row["chunks"]), _f(row["build_s"]), _f(row["query"]["p50_ms"]),
                              _f(row["query"]["p95_ms"]), _f(row.get("hit_at_k"), 3),
                              _f(row["peak_rss_mb"], 0),
                              _f(row.get("build_speedup")), _f(row.get("query_speedup"))))  # fmt: skip
    start = results.get("browser_start", {})
    if "first_run" in start:
        first, again = start["first_run"], start["next_run"]
        lines += [
            "",
            f"`make run` to the first answer in chromium: {_f(first['to_first_answer_s'])} s over an empty "
            f"index (build {_f(first['index_s'])} s, server up {_f(first['serve_until_http_s'])} s, page "
            f"{_f(first['page_ready_s'])} s, answer {_f(first['question_to_answer_s'])} s); "
            f"{_f(again['to_first_answer_s'])} s again with the index built",
        ]
    if results.get("rounds"):
        rounds = results["rounds"]
        fast = ", ".join(
            f"{name} {_f(row.get('build_speedup_int8_pooled'))}×"
            for name, row in peers
            if "skipped" not in row
        )
        lines += [
            "",
            f"builds interleaved over {len(rounds)} rounds (one order, then its reverse; medians): "
            + "; ".join(" ".join(f"{k} {_f(v)} s" for k, v in r.items()) for r in rounds),
            f"rag embedding in fp32 (RAG_BUILD_BF16=off): {_f(results.get('rag_fp32_build_s'))} s",
            f"rag with int8 weights and pooled sentence vectors (opt-in): "
            f"{_f(results.get('rag_int8_pooled_build_s'))} s, build speedup {fast}",
        ]
    for size, point in results.get("scale", {}).items():
        title = f"{int(size):,} synthetic vectors (rag picks {point['rag_picks']})"
        lines += _head(title, "build s", "p50 ms", "p95 ms", "cold p50 ms", "recall@10", "RAM MB",
                       "of which heap MB", "file MB")  # fmt: skip
        for kind, row in point["types"].items():
            if "skipped" in row:
                lines.append(_row(kind, f"skipped: {row['skipped']}"))
                continue
            lines.append(_row(kind, _f(row["build_s"]), _f(row["p50_ms"], 3), _f(row["p95_ms"], 3),
                              _f(row.get("cold_p50_ms"), 3), _f(row["recall_at_10"], 3),
                              _f(row["ram_mb"], 0),
                              _f(row["heap_mb"], 0), _f(row["file_mb"], 0)))  # fmt: skip
    return "\n".join(lines)
