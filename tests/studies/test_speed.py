"""``benchmark``: the machine line (speed ratios are only meaningful next to the CPU) and the evaluator timing."""

import pytest

from sentiloc.studies.speed import SpeedReport, benchmark_evaluator, cpu_description

XEON = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n"
EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n"


def test_cpu_description_names_model_and_matrix_extensions():
    assert cpu_description(XEON) == "Intel(R) Xeon(R) Platinum (AVX2, AVX-512, AVX512-BF16, AMX-BF16)"
    assert cpu_description(EPYC) == "AMD EPYC (AVX2)"
    assert cpu_description("model name\t: Old\nflags\t: sse\n") == "Old (no AVX2)"


def test_speed_report_prints_the_machine_first():
    figures = dict(
        train_s_per_video=1.0, train_s_per_1k_snippets=2.0, train_s_per_epoch=3.0, train_videos_timed=4,
        longest_snippets=5, longest_fwd_bwd_s=6.0, train_peak_rss_gib=1.5, infer_s_per_100_test_videos=7.0,
        infer_repeats=3, threads=2,
    )
    text = SpeedReport(figures, machine="AMD EPYC (AVX2)").format()
    assert text.splitlines()[0].startswith("machine: AMD EPYC (AVX2), 2 threads (reference: 2-vCPU Intel Xeon")
    assert "4.3x faster per video" in text


def test_benchmark_reports_speedup_against_the_reference() -> None:
    report = benchmark_evaluator(n_videos=4, preds_per_video=10, repeats=1)
    assert report["proposals"] == 40 and report["videos"] == 4 and report["reference_s"] == 2.0
    assert report["speedup"] == pytest.approx(2.0 / report["median_s"])
