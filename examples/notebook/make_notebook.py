"""Writes explore_penny.ipynb: a step-by-step exploration of the tables `penny demo`
(or `penny sync`) loads into PostgreSQL. Each code cell is preceded by a markdown cell
saying what it does and followed by its displayed result once executed:

    python3 examples/notebook/make_notebook.py
    DATABASE_URL=postgres://... jupyter nbconvert --to notebook --execute --inplace \
        examples/notebook/explore_penny.ipynb
"""
import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    ("md", """# Exploring Penny's tables, step by step

This notebook reads the tables Penny loaded into PostgreSQL: the raw Pennylane
resources in `pennylane_raw`, and the star schema Power BI reads in `pennylane`.
Load them first, with a generated company and no credentials:

```sh
DATABASE_URL=postgres://postgres@127.0.0.1:5432/penny cargo run --release -p penny-cli -- demo
```

or with your own data: `penny sync`. The notebook connects to `DATABASE_URL`."""),
    ("code", """import os

import pandas as pd
import psycopg

URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/penny")
conn = psycopg.connect(URL, autocommit=True)


def q(sql, *params):
    \"\"\"Runs a query and returns its rows as a DataFrame.\"\"\"
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


q("SELECT current_database() AS database, version() AS server")"""),
    ("md", """## 1. What tables are there?

One row per table of the two schemas, with its row count."""),
    ("code", """tables = q(\"\"\"
    SELECT table_schema, table_name
    FROM information_schema.tables
    WHERE table_schema IN ('pennylane_raw', 'pennylane') AND table_type = 'BASE TABLE'
    ORDER BY table_schema, table_name
\"\"\")
tables["rows"] = [
    q(f'SELECT count(*) AS n FROM "{s}"."{t}"')["n"][0]
    for s, t in zip(tables.table_schema, tables.table_name)
]
tables"""),
    ("md", """## 2. A look at the general ledger

`fact_ledger_lines` holds one row per ledger entry line, with exact decimal amounts
(`debit`, `credit`, and `amount` = debit - credit) and keys (`*_key`) that relate it to
the dimensions in Power BI."""),
    ("code", """q(\"\"\"
    SELECT date, journal_code, account_number, label, debit, credit, lettering
    FROM pennylane.fact_ledger_lines
    ORDER BY date, entry_id, line_id
    LIMIT 10
\"\"\")"""),
    ("md", """## 3. Do the books balance?

Every entry balances, so debits equal credits per company: the difference must be zero."""),
    ("code", """q(\"\"\"
    SELECT company_id, count(*) AS lines, sum(debit) AS debits, sum(credit) AS credits,
           sum(debit) - sum(credit) AS difference
    FROM pennylane.fact_ledger_lines
    GROUP BY company_id
    ORDER BY company_id
\"\"\")"""),
    ("md", """## 4. Balances by PCG class

`dim_account` gives each account its class of the French chart of accounts (PCG), its
name, and whether it belongs to the balance sheet or the income statement."""),
    ("code", """q(\"\"\"
    SELECT a.class, a.class_name, a.nature, sum(l.debit) AS debits, sum(l.credit) AS credits,
           sum(l.amount) AS balance
    FROM pennylane.fact_ledger_lines l
    JOIN pennylane.dim_account a USING (company_id, account_number)
    GROUP BY a.class, a.class_name, a.nature
    ORDER BY a.class
\"\"\")"""),
    ("md", """## 5. Revenue and expenses by month

Class 7 (revenue) is credit-normal and class 6 (expenses) debit-normal, so revenue is
credit - debit and expenses debit - credit."""),
    ("code", """monthly = q(\"\"\"
    SELECT date_trunc('month', l.date)::date AS month,
           sum(CASE WHEN a.class = 7 THEN l.credit - l.debit ELSE 0 END) AS revenue,
           sum(CASE WHEN a.class = 6 THEN l.debit - l.credit ELSE 0 END) AS expenses
    FROM pennylane.fact_ledger_lines l
    JOIN pennylane.dim_account a USING (company_id, account_number)
    GROUP BY 1
    ORDER BY 1
\"\"\")
monthly["result"] = monthly.revenue - monthly.expenses
monthly.tail(12)"""),
    ("md", """## 6. Who owes us money?

Open customer invoices (`remaining` > 0) by customer, from `fact_invoices` and
`dim_third_party`."""),
    ("code", """q(\"\"\"
    SELECT t.name AS customer, count(*) AS open_invoices, sum(i.remaining) AS open_amount,
           min(i.due_date) AS oldest_due_date
    FROM pennylane.fact_invoices i
    JOIN pennylane.dim_third_party t
      ON t.company_id = i.company_id AND t.third_party_id = i.third_party_id AND t.kind = 'customer'
    WHERE i.kind = 'customer' AND i.remaining > 0
    GROUP BY t.name
    ORDER BY open_amount DESC
    LIMIT 10
\"\"\")"""),
    ("md", """## Next

- In Power BI: *Get Data > PostgreSQL database*, schema `pennylane`; relate the facts to
  the dimensions on their `*_key` columns (see the book's Power BI page).
- Keep the tables fresh with `penny schedule --every 10m`."""),
]

nb = new_notebook()
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.cells = [new_markdown_cell(text) if kind == "md" else new_code_cell(text) for kind, text in cells]
out = pathlib.Path(__file__).with_name("explore_penny.ipynb")
nbformat.write(nb, out)
print(f"wrote {out}")
