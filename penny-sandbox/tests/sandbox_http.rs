//! The sandbox's HTTP dialect, proven with plain reqwest: determinism, balanced books,
//! pagination, limits, the filter-replay trap, auth, rate limit and faults.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use penny_sandbox::{Fault, RateLimit, Resource, Sandbox, SandboxConfig};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

mod common;

use common::{get, get_with};

/// Every item of `path`, following cursors (replaying `extra` on every page).
async fn all_items(sandbox: &Sandbox, path: &str, extra: &[(&str, String)]) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query: Vec<(&str, String)> = vec![("limit", "100".into())];
        query.extend(extra.iter().cloned());
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let answer = get(sandbox, path, &query).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        let body = answer.json();
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(body["has_more"], json!(true));
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(body["has_more"], json!(false));
                return items;
            }
        }
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn same_seed_same_bytes_other_seed_other_world() {
    let a = Sandbox::start(SandboxConfig::unthrottled(1_000))
        .await
        .unwrap();
    let b = Sandbox::start(SandboxConfig::unthrottled(1_000))
        .await
        .unwrap();
    let c = Sandbox::start(SandboxConfig {
        seed: 7,
        ..SandboxConfig::unthrottled(1_000)
    })
    .await
    .unwrap();
    for path in [
        "/customers",
        "/ledger_entry_lines",
        "/customer_invoices",
        "/transactions",
    ] {
        let q = [("limit", "100".to_string())];
        let norm = |s: &Sandbox, t: String| t.replace(&s.base_url(), "BASE");
        let (ta, tb, tc) = (
            get(&a, path, &q).await.text,
            get(&b, path, &q).await.text,
            get(&c, path, &q).await.text,
        );
        assert_eq!(norm(&a, ta.clone()), norm(&b, tb), "{path}");
        assert_ne!(norm(&a, ta), norm(&c, tc), "{path}");
    }
    assert_eq!(a.token(1).expose_secret(), b.token(1).expose_secret());
}

#[tokio::test]
async fn books_balance_per_entry_and_in_total_and_match_the_trial_balance() {
    for lines in [300, 2_500] {
        let sandbox = Sandbox::start(SandboxConfig::unthrottled(lines))
            .await
            .unwrap();
        let items = all_items(&sandbox, "/ledger_entry_lines", &[]).await;
        // The target, a few more to end on a whole entry, and the opening entries.
        assert!(items.len() >= lines, "{} lines for {lines}", items.len());
        assert_eq!(
            items.len(),
            sandbox
                .generated_count(1, Resource::LedgerEntryLines)
                .unwrap()
        );
        let mut per_entry: BTreeMap<i64, (Decimal, Decimal)> = BTreeMap::new();
        for line in &items {
            let e = per_entry
                .entry(line["ledger_entry"]["id"].as_i64().unwrap())
                .or_default();
            e.0 += dec(&line["debit"]);
            e.1 += dec(&line["credit"]);
        }
        for (entry, (d, c)) in &per_entry {
            assert_eq!(d, c, "entry {entry} does not balance");
        }
        let entries = all_items(&sandbox, "/ledger_entries", &[]).await;
        assert_eq!(entries.len(), per_entry.len());
        let q = [
            ("period_start", "2000-01-01".to_string()),
            ("period_end", "2100-12-31".to_string()),
            ("limit", "1000".into()),
        ];
        for aux in ["true", "false"] {
            let mut q = q.to_vec();
            q.push(("is_auxiliary", aux.into()));
            let tb = get(&sandbox, "/trial_balance", &q).await.json();
            let rows = tb["items"].as_array().unwrap();
            let debits: Decimal = rows.iter().map(|r| dec(&r["debits"])).sum();
            let credits: Decimal = rows.iter().map(|r| dec(&r["credits"])).sum();
            let total: Decimal = items.iter().map(|l| dec(&l["debit"])).sum();
            assert_eq!((debits, credits), (total, total), "is_auxiliary={aux}");
            let aux_rows = rows
                .iter()
                .filter(|r| {
                    r["number"].as_str().unwrap().starts_with("411") && r["number"] != "411000"
                })
                .count();
            assert_eq!(aux_rows > 0, aux == "true");
        }
    }
}

#[tokio::test]
async fn invoices_agree_with_their_lines_payments_and_entries() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(1_500))
        .await
        .unwrap();
    let invoices = all_items(&sandbox, "/customer_invoices", &[]).await;
    assert_eq!(
        invoices.len(),
        sandbox
            .generated_count(1, Resource::CustomerInvoices)
            .unwrap()
    );
    let mut seen_rates = HashSet::new();
    for inv in invoices.iter().take(12) {
        let id = inv["id"].as_i64().unwrap();
        let lines = get(
            &sandbox,
            &format!("/customer_invoices/{id}/invoice_lines"),
            &[],
        )
        .await
        .json();
        let lines = lines["items"].as_array().unwrap();
        let ht: Decimal = lines
            .iter()
            .map(|l| dec(&l["currency_amount_before_tax"]))
            .sum();
        let tax: Decimal = lines.iter().map(|l| dec(&l["tax"])).sum();
        assert_eq!(ht, dec(&inv["currency_amount_before_tax"]));
        assert_eq!(ht + tax, dec(&inv["amount"]));
        seen_rates.extend(
            lines
                .iter()
                .map(|l| l["vat_rate"].as_str().unwrap().to_owned()),
        );
        let payments = get(&sandbox, &format!("/customer_invoices/{id}/payments"), &[])
            .await
            .json();
        assert_eq!(
            payments["items"].as_array().unwrap().is_empty(),
            inv["paid"] == json!(false)
        );
        let entry_id = inv["ledger_entry"]["id"].as_i64().unwrap();
        let entry = get(&sandbox, &format!("/ledger_entries/{entry_id}"), &[]).await;
        if matches!(inv["status"].as_str(), Some("draft" | "proforma")) {
            // Outside the books: no number, no entry.
            assert_eq!(inv["invoice_number"], "", "{inv}");
            assert_eq!(entry.status, 404, "{inv}");
            assert_eq!(inv["draft"], json!(inv["status"] == "draft"));
        } else {
            assert_eq!(inv["draft"], json!(false));
            assert_eq!(entry.json()["invoice_number"], inv["invoice_number"]);
        }
    }
    // Drafts and a proforma, newest of all; credit notes credit an invoice, negatively.
    let statuses: Vec<&str> = invoices
        .iter()
        .filter_map(|i| i["status"].as_str())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "draft").count(), 3);
    assert_eq!(statuses.iter().filter(|s| **s == "proforma").count(), 1);
    let notes: Vec<&Value> = invoices
        .iter()
        .filter(|i| !i["credited_invoice"].is_null())
        .collect();
    assert!(!notes.is_empty());
    for note in notes {
        assert_eq!(note["status"], "credit_note");
        assert!(dec(&note["amount"]) < Decimal::ZERO, "{note}");
        let credited = note["credited_invoice"]["id"].as_i64().unwrap();
        let original = get(&sandbox, &format!("/customer_invoices/{credited}"), &[])
            .await
            .json();
        assert_eq!(dec(&original["amount"]), -dec(&note["amount"]));
    }
    let filter = json!([{"field": "draft", "operator": "eq", "value": true}]).to_string();
    let drafts = all_items(&sandbox, "/customer_invoices", &[("filter", filter)]).await;
    assert_eq!(drafts.len(), 3);
    assert!(seen_rates.contains("FR_200"));
    let individuals = all_items(&sandbox, "/customers", &[]).await;
    let kinds: HashSet<_> = individuals
        .iter()
        .map(|c| c["customer_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.len(), 2, "companies and individuals: {kinds:?}");
}

#[tokio::test]
async fn pagination_covers_every_record_exactly_once_in_each_sort() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(1_200))
        .await
        .unwrap();
    let n = sandbox
        .generated_count(1, Resource::LedgerEntryLines)
        .unwrap();
    for sort in [None, Some("id"), Some("-id"), Some("date"), Some("-date")] {
        let extra: Vec<(&str, String)> =
            sort.map(|s| ("sort", s.to_string())).into_iter().collect();
        let items = all_items(&sandbox, "/ledger_entry_lines", &extra).await;
        let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!((ids.len(), unique.len()), (n, n), "sort {sort:?}");
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if matches!(sort, None | Some("-id") | Some("-date")) {
            sorted.reverse();
        }
        assert_eq!(ids, sorted, "sort {sort:?}");
    }
    // A small resource with the default limit of 20.
    let first = get(&sandbox, "/ledger_accounts", &[]).await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 20);
    // The cursor envelope only (no page numbers since the 2026 API changes).
    assert!(first.get("total_pages").is_none());
}

#[tokio::test]
async fn limits_out_of_bounds_and_bad_requests_are_400() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(300))
        .await
        .unwrap();
    for limit in ["0", "101", "abc"] {
        let a = get(&sandbox, "/customers", &[("limit", limit.into())]).await;
        assert_eq!(a.status, 400, "limit {limit}");
        assert!(a.json()["error"].as_str().unwrap().contains("limit"));
    }
    let bad_field = json!([{"field": "colour", "operator": "eq", "value": "red"}]).to_string();
    for (path, name, value, status) in [
        ("/customers", "limit", "100".to_owned(), 200),
        ("/changelogs/customers", "limit", "1000".to_owned(), 200),
        ("/changelogs/customers", "limit", "1001".to_owned(), 400),
        ("/customers", "cursor", "garbage".to_owned(), 400),
        ("/customers", "sort", "name".to_owned(), 400),
        ("/customers", "filter", bad_field, 400),
    ] {
        let answer = get(&sandbox, path, &[(name, value.clone())]).await;
        assert_eq!(answer.status, status, "{path}?{name}={value}");
    }
    assert_eq!(get(&sandbox, "/trial_balance", &[]).await.status, 400);
    assert_eq!(get(&sandbox, "/nothing_here", &[]).await.status, 404);
}

#[tokio::test]
async fn filters_apply_and_pages_two_plus_are_unfiltered_unless_replayed() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(3_000))
        .await
        .unwrap();
    let all = all_items(&sandbox, "/customer_invoices", &[]).await;
    let customer = all[0]["customer"]["id"].as_i64().unwrap();
    let expected: Vec<&Value> = all
        .iter()
        .filter(|i| i["customer"]["id"] == json!(customer))
        .collect();
    let filter = json!([{"field": "customer_id", "operator": "eq", "value": customer}]).to_string();

    // Replayed on every page: exactly the customer's invoices.
    let page_limit = [("limit", "2".to_string())];
    let mut got = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let mut q = page_limit.to_vec();
        q.push(("filter", filter.clone()));
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let body = get(&sandbox, "/customer_invoices", &q).await.json();
        got.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(expected.len() > 2, "the test needs several pages");
    assert_eq!(got.len(), expected.len());
    assert!(got.iter().all(|i| i["customer"]["id"] == json!(customer)));
    let replayed = sandbox.last_query("/customer_invoices").unwrap();
    assert!(replayed.iter().any(|(k, v)| k == "filter" && *v == filter));
    assert!(replayed.iter().any(|(k, _)| k == "cursor"));

    // The trap: page 2 without the filter comes back unfiltered, without error.
    let mut q = page_limit.to_vec();
    q.push(("filter", filter.clone()));
    let page1 = get(&sandbox, "/customer_invoices", &q).await.json();
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let page2 = get(
        &sandbox,
        "/customer_invoices",
        &[("limit", "50".into()), ("cursor", cursor)],
    )
    .await;
    assert_eq!(page2.status, 200);
    let items = page2.json()["items"].as_array().unwrap().clone();
    assert!(
        items.iter().any(|i| i["customer"]["id"] != json!(customer)),
        "page 2 should be unfiltered"
    );

    // Comparisons on id, date, updated_at and in.
    let ids: Vec<i64> = all
        .iter()
        .take(3)
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let f = json!([{"field": "id", "operator": "in", "value": ids}]).to_string();
    let body = get(&sandbox, "/customer_invoices", &[("filter", f)])
        .await
        .json();
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    let date = all[all.len() / 2]["date"].as_str().unwrap().to_owned();
    let f = json!([{"field": "date", "operator": "gteq", "value": date}]).to_string();
    let newer = all_items(&sandbox, "/customer_invoices", &[("filter", f)]).await;
    assert_eq!(
        newer.len(),
        all.iter()
            .filter(|i| i["date"].as_str().unwrap() >= date.as_str())
            .count()
    );
    let f = json!([{"field": "date", "operator": "gt", "value": "2100-01-01"}]).to_string();
    assert!(
        get(&sandbox, "/ledger_entry_lines", &[("filter", f)])
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let f = json!([{"field": "number", "operator": "start_with", "value": "411"}]).to_string();
    let accounts = all_items(&sandbox, "/ledger_accounts", &[("filter", f)]).await;
    assert_eq!(
        accounts.len(),
        sandbox.generated_count(1, Resource::Customers).unwrap() + 1
    );
}

#[tokio::test]
async fn tokens_and_scopes_are_checked_with_json_bodies() {
    let sandbox = Sandbox::start(SandboxConfig {
        companies: 2,
        ..SandboxConfig::unthrottled(300)
    })
    .await
    .unwrap();
    let bad = get_with(&sandbox, "not-a-token", "/customers", &[]).await;
    assert_eq!(bad.status, 401);
    assert!(bad.json()["error"].is_string());
    assert_eq!(bad.json()["status"], 401);
    let me = get_with(&sandbox, sandbox.token(2).expose_secret(), "/me", &[])
        .await
        .json();
    assert_eq!(me["company"]["id"], 2);
    assert!(
        me["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("customers:readonly"))
    );
    let narrow = sandbox
        .token_with_scopes(1, &["customers:readonly"])
        .unwrap();
    assert_eq!(
        get_with(&sandbox, narrow.expose_secret(), "/customers", &[])
            .await
            .status,
        200
    );
    let denied = get_with(&sandbox, narrow.expose_secret(), "/transactions", &[]).await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.json()["error"]
            .as_str()
            .unwrap()
            .contains("transactions:readonly")
    );
    // Two companies, two different worlds.
    let c1 = get(&sandbox, "/customers", &[]).await.text;
    let c2 = get_with(
        &sandbox,
        sandbox.token(2).expose_secret(),
        "/customers",
        &[],
    )
    .await
    .text;
    assert_ne!(c1, c2);
}

#[tokio::test]
async fn the_rate_limit_answers_429_in_plain_text_with_headers() {
    let limit = RateLimit {
        requests: 5,
        per: Duration::from_secs(60),
    };
    let sandbox = Sandbox::start(SandboxConfig {
        rate_limit: Some(limit),
        ..SandboxConfig::unthrottled(300)
    })
    .await
    .unwrap();
    for i in 0..5 {
        let a = get(&sandbox, "/journals", &[]).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.headers["ratelimit-limit"], "5");
        assert_eq!(
            a.headers["ratelimit-remaining"],
            (4 - i).to_string().as_str()
        );
        assert!(
            a.headers["ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 1_700_000_000
        );
    }
    let refused = get(&sandbox, "/journals", &[]).await;
    assert_eq!(refused.status, 429);
    assert!(
        refused.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        refused
            .text
            .starts_with("Rate limit exceeded. Please retry in")
    );
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(refused.headers["ratelimit-remaining"], "0");
    assert_eq!(
        (sandbox.rate_limited_count(), sandbox.limit_exceeded_count()),
        (1, 1)
    );
    // Another token has its own budget.
    let other = sandbox
        .token_with_scopes(1, &["journals:readonly"])
        .unwrap();
    assert_eq!(
        get_with(&sandbox, other.expose_secret(), "/journals", &[])
            .await
            .status,
        200
    );
    assert_eq!(sandbox.request_count("/journals"), 7);
}

#[tokio::test]
async fn injected_faults_are_served_in_order_then_normal_answers_resume() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(300))
        .await
        .unwrap();
    sandbox.inject(Fault::ServerError {
        count: 2,
        status: 503,
    });
    sandbox.inject(Fault::TooManyRequests {
        count: 1,
        retry_after_secs: 3,
    });
    sandbox.inject(Fault::MalformedJson { count: 1 });
    sandbox.inject(Fault::Latency {
        count: 1,
        delay: Duration::from_millis(300),
    });
    assert_eq!(get(&sandbox, "/customers", &[]).await.status, 503);
    assert_eq!(get(&sandbox, "/customers", &[]).await.status, 503);
    let storm = get(&sandbox, "/customers", &[]).await;
    assert_eq!(
        (storm.status, storm.headers["retry-after"].to_str().unwrap()),
        (429, "3")
    );
    let cut = get(&sandbox, "/customers", &[]).await;
    assert_eq!(cut.status, 200);
    assert!(serde_json::from_str::<Value>(&cut.text).is_err());
    let started = std::time::Instant::now();
    assert_eq!(get(&sandbox, "/customers", &[]).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let customers = sandbox
        .generated_count(1, Resource::Customers)
        .unwrap()
        .min(20);
    assert_eq!(
        get(&sandbox, "/customers", &[]).await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        customers
    );
    assert_eq!(
        (sandbox.rate_limited_count(), sandbox.limit_exceeded_count()),
        (1, 0)
    );
    assert_eq!(sandbox.request_count("/customers"), 6);
}

/// The opening entry of 2025 (journal AN, January 1st) carries the 2024 trial
/// balance's balance-sheet accounts and books its result on 120000 or 129000; 2026 opens
/// from 2025 the same way.
#[tokio::test]
async fn each_year_opens_with_the_closing_balances_of_the_year_before() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(3_000))
        .await
        .unwrap();
    let filter = json!([{"field": "type", "operator": "eq", "value": "new_year"}]).to_string();
    let journals = get(&sandbox, "/journals", &[("filter", filter)])
        .await
        .json();
    let an = journals["items"][0]["id"].as_i64().unwrap();
    for year in [2024, 2025] {
        let tb = get(
            &sandbox,
            "/trial_balance",
            &[
                ("period_start", format!("{year}-01-01")),
                ("period_end", format!("{year}-12-31")),
                ("is_auxiliary", "true".into()),
                ("limit", "1000".into()),
            ],
        )
        .await
        .json();
        let mut sheet: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut result = Decimal::ZERO;
        for row in tb["items"].as_array().unwrap() {
            let number = row["number"].as_str().unwrap().to_owned();
            let net = dec(&row["debits"]) - dec(&row["credits"]);
            if number.starts_with('6') || number.starts_with('7') {
                result -= net;
            } else if !net.is_zero() {
                sheet.insert(number, net);
            }
        }
        let filter = json!([
            {"field": "journal_id", "operator": "eq", "value": an},
            {"field": "date", "operator": "eq", "value": format!("{}-01-01", year + 1)},
        ])
        .to_string();
        let lines = all_items(&sandbox, "/ledger_entry_lines", &[("filter", filter)]).await;
        let mut carried: BTreeMap<String, Decimal> = BTreeMap::new();
        for line in &lines {
            let number = line["ledger_account"]["number"]
                .as_str()
                .unwrap()
                .to_owned();
            *carried.entry(number).or_default() += dec(&line["debit"]) - dec(&line["credit"]);
        }
        // The result lands on 120000 / 129000, beside the year before's carried there.
        let on_result = |m: &mut BTreeMap<String, Decimal>| -> Decimal {
            ["120000", "129000"]
                .iter()
                .filter_map(|a| m.remove(*a))
                .sum()
        };
        let booked = on_result(&mut sheet) - on_result(&mut carried);
        carried.retain(|_, v| !v.is_zero());
        assert!(!lines.is_empty(), "{} opens with an AN entry", year + 1);
        assert_eq!(carried, sheet, "balances carried into {}", year + 1);
        assert_eq!(booked, result, "the {year} result");
    }
    let years = all_items(&sandbox, "/fiscal_years", &[]).await;
    let statuses: Vec<(&str, &str)> = years
        .iter()
        .map(|y| (y["start"].as_str().unwrap(), y["status"].as_str().unwrap()))
        .collect();
    assert!(statuses.contains(&("2024-01-01", "closed")));
    assert!(statuses.contains(&("2025-01-01", "closed")));
    assert!(statuses.contains(&("2026-01-01", "open")));
}
