"""The trial balance of bench_reports' CSV, computed with polars, for comparison.

Usage: python3 trial_balance_polars.py LINES.csv FROM TO [RUNS]

Same definition as penny_transform::reports::trial_balance (Granularity::Whole, no
aggregation): per (company_id, account_number), opening = sum(debit - credit) of lines
dated before FROM, debit/credit = sums of lines dated FROM..=TO, closing = opening +
debit - credit; lines after TO are ignored. Amounts are read as Float64 (polars' fastest
path; exact Decimal is slower). Prints key=value lines: read_ms, tb_ms (best of RUNS),
rows, debit, credit, closing_sum, threads, version.
"""

import datetime as dt
import sys
import time

import polars as pl


def main() -> None:
    path, start, end = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    start = dt.date.fromisoformat(start)
    end = dt.date.fromisoformat(end)

    t0 = time.perf_counter()
    df = pl.read_csv(
        path,
        columns=["company_id", "account_number", "date", "debit", "credit"],
        schema_overrides={
            "company_id": pl.Int64,
            "account_number": pl.Utf8,
            "date": pl.Date,
            "debit": pl.Float64,
            "credit": pl.Float64,
        },
    )
    read_ms = (time.perf_counter() - t0) * 1000

    best = None
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        in_period = pl.col("date") >= start
        result = (
            df.lazy()
            .filter(pl.col("date") <= end)
            .group_by(["company_id", "account_number"])
            .agg(
                opening=pl.when(~in_period).then(pl.col("debit") - pl.col("credit")).otherwise(0.0).sum(),
                debit=pl.when(in_period).then(pl.col("debit")).otherwise(0.0).sum(),
                credit=pl.when(in_period).then(pl.col("credit")).otherwise(0.0).sum(),
            )
            .with_columns(closing=pl.col("opening") + pl.col("debit") - pl.col("credit"))
            .sort(["company_id", "account_number"])
            .collect()
        )
        elapsed = (time.perf_counter() - t0) * 1000
        best = elapsed if best is None else min(best, elapsed)

    print(f"read_ms={read_ms:.1f}")
    print(f"tb_ms={best:.1f}")
    print(f"rows={result.height}")
    print(f"debit={result['debit'].sum():.2f}")
    print(f"credit={result['credit'].sum():.2f}")
    print(f"closing_sum={result['closing'].sum():.2f}")
    print(f"threads={pl.thread_pool_size()}")
    print(f"version={pl.__version__}")


if __name__ == "__main__":
    main()
