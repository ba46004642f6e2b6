"""Specification of gradmodes.measure: exact byte counts; timings and memory by shape only."""

from __future__ import annotations

import pytest
import torch

from gradmodes.measure import (
    SETTINGS,
    WORKLOADS,
    Latency,
    Result,
    format_results,
    forward,
    head_input_bytes,
    latency,
    machine_facts,
    measure_all,
    peak_rss_growth,
    saved_bytes,
    saved_tensors,
    storage_bytes,
)

# Exact bytes saved for backward, from the shapes (float32, input not requiring grad).
# small_mlp: 9 Linear layers on (16, 32); each ReLU output (2048 B) is saved by the ReLU
# and by the next Linear; Linear 2..8 also save their weight (4096 B), the head its weight
# (32 x 10 x 4 = 1280 B); Linear 1 saves the input (2048 B).
SMALL_MLP_TRAIN = 2048 + 8 * 2 * 2048 + 7 * 4096 + 1280
SAVED = {
    ("small_mlp", "train"): SMALL_MLP_TRAIN,
    ("small_mlp", "eval"): SMALL_MLP_TRAIN,
    ("small_mlp", "frozen_but_head"): 16 * 32 * 4,
    ("small_cnn", "frozen_but_head"): 8 * 32 * 4,
    ("large_mlp", "train"): 7 * 256 * 1024 * 4 + 2 * 1024 * 1024 * 4 + 1000 * 1024 * 4,
    ("large_mlp", "frozen_but_head"): 256 * 1024 * 4,
}


def test_workloads_and_settings() -> None:
    assert list(WORKLOADS) == ["small_mlp", "small_cnn", "large_mlp"]
    assert list(SETTINGS) == [
        "train",
        "eval",
        "no_grad",
        "inference_mode",
        "frozen",
        "frozen_but_head",
    ]
    for workload in WORKLOADS.values():
        model, x = workload.make()
        assert [name for name, _ in model.named_children()] == ["body", "head"]
        assert isinstance(model.head, torch.nn.Linear)
        assert tuple(x.shape) == workload.input_shape and not x.requires_grad


def test_make_is_deterministic_and_leaves_the_rng_alone() -> None:
    state = torch.get_rng_state()
    (a, x), (b, y) = WORKLOADS["small_cnn"].make(), WORKLOADS["small_cnn"].make()
    assert torch.equal(x, y)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    ("setting", "training", "trainable"),
    [
        ("train", True, "all"),
        ("eval", False, "all"),
        ("no_grad", True, "all"),
        ("inference_mode", True, "all"),
        ("frozen", True, "none"),
        ("frozen_but_head", True, "head"),
    ],
)
def test_setting_apply(setting: str, training: bool, trainable: str) -> None:
    model = SETTINGS[setting].apply(WORKLOADS["small_cnn"].build())
    assert {m.training for m in model.modules()} == {training}
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    expected = {
        "all": set(flags),
        "none": set(),
        "head": {"head.weight", "head.bias"},
    }[trainable]
    assert {name for name, flag in flags.items() if flag} == expected


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_forward_records_a_graph_only_where_something_requires_grad(setting: str) -> None:
    output = forward(WORKLOADS["small_mlp"], SETTINGS[setting])()
    assert (output.grad_fn is not None) == (setting in ("train", "eval", "frozen_but_head"))
    assert torch.is_inference(output) == (setting == "inference_mode")


@pytest.mark.parametrize(("workload", "setting"), list(SAVED))
def test_saved_bytes_match_the_shapes(workload: str, setting: str) -> None:
    assert saved_bytes(WORKLOADS[workload], SETTINGS[setting]) == SAVED[workload, setting]


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_head_input_bytes(workload: str) -> None:
    head = WORKLOADS[workload].build().head
    batch = WORKLOADS[workload].input_shape[0]
    assert head_input_bytes(WORKLOADS[workload]) == batch * head.in_features * 4


@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_distinct_storage_is_at_most_what_is_referenced(workload: str, setting: str) -> None:
    distinct = storage_bytes(WORKLOADS[workload], SETTINGS[setting])
    referenced = saved_bytes(WORKLOADS[workload], SETTINGS[setting])
    assert 0 <= distinct <= referenced
    assert (distinct == 0) == (referenced == 0)


def test_distinct_storage_counts_each_relu_output_once() -> None:
    # 8 ReLU outputs of (16, 32) float32, each saved twice; the weights are not new.
    assert storage_bytes(WORKLOADS["small_mlp"], SETTINGS["train"]) == 8 * 16 * 32 * 4


def test_saved_tensors_gives_both_figures_of_one_forward() -> None:
    saved = saved_tensors(WORKLOADS["small_mlp"], SETTINGS["train"])
    assert (saved.count, saved.bytes, saved.storage_bytes) == (25, SMALL_MLP_TRAIN, 16384)


def test_autocast_halves_the_referenced_bytes_but_keeps_low_precision_copies() -> None:
    # large_mlp in bfloat16 keeps: its 3 ReLU outputs (256 x 1024 x 2 B each), the input cast
    # once (256 x 1024 x 2 B), and the bfloat16 copies of the weights that the next layers
    # save: Linear 2 and 3 (1024 x 1024 x 2 B each) and the head (1000 x 1024 x 2 B). The first
    # Linear's input does not require grad, so its weight is not saved.
    saved = saved_tensors(WORKLOADS["large_mlp"], SETTINGS["train"], autocast=torch.bfloat16)
    assert saved.bytes == SAVED["large_mlp", "train"] // 2
    relu_outputs, cast_input = 3 * 256 * 1024 * 2, 256 * 1024 * 2
    cast_weights = 2 * 1024 * 1024 * 2 + 1000 * 1024 * 2
    assert saved.storage_bytes == relu_outputs + cast_input + cast_weights == 8339456
    assert saved.storage_bytes > storage_bytes(WORKLOADS["large_mlp"], SETTINGS["train"])


def test_latency_has_the_shape_of_a_measurement() -> None:
    timing = latency(lambda: torch.ones(4) + 1, min_run_time=0.01)
    assert timing.median > 0 and timing.iqr >= 0
    assert len(timing.times) >= 1 and timing.runs >= len(timing.times)


def test_latency_statistics_and_pooling() -> None:
    one = Latency.of([1.0, 2.0, 3.0, 4.0, 5.0], runs=50)
    assert (one.median, one.iqr, one.runs) == (3.0, 2.0, 50)
    assert Latency.of([7.0], runs=3) == Latency(7.0, 0.0, 3, (7.0,))
    pooled = one + Latency.of([6.0, 7.0], runs=20)
    assert (pooled.median, pooled.runs, len(pooled.times)) == (4.0, 70, 7)


def test_peak_rss_growth_is_bytes_or_unavailable() -> None:
    growth = peak_rss_growth(lambda: torch.ones(1000).sum(), repeat=2)
    assert growth is None or (isinstance(growth, int) and growth >= 0)


def test_peak_rss_growth_without_proc_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradmodes.measure as measure

    monkeypatch.setattr(measure, "_malloc_trim", lambda: None)
    assert peak_rss_growth(lambda: None) is None


def test_measure_all_visits_every_pair_in_order() -> None:
    chosen = [SETTINGS["train"], SETTINGS["no_grad"]]
    results = measure_all(WORKLOADS.values(), chosen, min_run_time=0.01, rounds=2)
    assert [(r.workload, r.setting) for r in results] == [
        (w, s) for w in WORKLOADS for s in ("train", "no_grad")
    ]
    assert all(r.device == "cpu" for r in results)
    assert [r.saved_bytes for r in results if r.setting == "no_grad"] == [0, 0, 0]
    assert [r.storage_bytes for r in results if r.setting == "train"] == [16384, 1967488, 3145728]


def test_measure_all_needs_a_round() -> None:
    with pytest.raises(ValueError, match="rounds must be at least 1"):
        measure_all(rounds=0)


def test_format_results_ratio_and_missing_baseline() -> None:
    results = [
        Result("a", "train", "cpu", 8, 4, 4096, Latency(4e-6, 1e-6, 10)),
        Result("a", "no_grad", "cpu", 0, 0, 0, Latency(3e-6, 1e-6, 10)),
        Result("b", "no_grad", "cpu", 0, 0, None, Latency(1e-6, 0.0, 10)),
    ]
    lines = format_results(results).splitlines()
    assert lines[0].split() == [
        "workload",
        "setting",
        "saved_bytes",
        "storage_bytes",
        "peak_KiB",
        "median_us",
        "iqr_us",
        "vs_train",
    ]
    assert lines[2].split() == ["a", "no_grad", "0", "0", "0", "3.0", "1.0", "0.75"]
    assert lines[3].split()[-1] == "-" and lines[3].split()[4] == "-"
    table = format_results(results, style="markdown").splitlines()
    assert len(table) == 2 + len(results) and all(line.startswith("| ") for line in table)


def test_machine_facts_name_what_timings_depend_on() -> None:
    facts = machine_facts()
    assert facts["torch"] == torch.__version__
    assert facts["torch_threads"] == str(torch.get_num_threads())
    assert all(isinstance(value, str) and value for value in facts.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_measure_on_cuda() -> None:  # pragma: no cover - runs only where CUDA exists
    result = measure_all([WORKLOADS["small_mlp"]], [SETTINGS["train"]], device="cuda")[0]
    assert result.device.startswith("cuda") and result.saved_bytes == SMALL_MLP_TRAIN
    assert result.peak_growth is not None and result.peak_growth >= 0
