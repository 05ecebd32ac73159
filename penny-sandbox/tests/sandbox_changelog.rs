//! Mutations and changelogs: inserts, updates and deletes at the sandbox clock, the
//! retention (422) and `start_date` xor `cursor` (400).
#![allow(clippy::unwrap_used)]

use chrono::Duration;
use penny_sandbox::{Resource, Sandbox, SandboxConfig};
use rust_decimal::Decimal;
use serde_json::{Value, json};

mod common;

async fn get(sandbox: &Sandbox, path: &str, query: &[(&str, String)]) -> (u16, Value) {
    let answer = common::get(sandbox, path, query).await;
    (answer.status, answer.json())
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339()
}

/// Every event since `start`, following cursors (the cursor alone on pages 2+).
async fn events_since(sandbox: &Sandbox, resource: &str, start: String) -> Vec<Value> {
    let path = format!("/changelogs/{resource}");
    let mut out = Vec::new();
    let (status, mut body) = get(
        sandbox,
        &path,
        &[("start_date", start), ("limit", "3".into())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    loop {
        out.extend(body["items"].as_array().unwrap().iter().cloned());
        let Some(cursor) = body["next_cursor"].as_str().map(str::to_owned) else {
            return out;
        };
        let (status, next) =
            get(sandbox, &path, &[("cursor", cursor), ("limit", "3".into())]).await;
        assert_eq!(status, 200, "{next}");
        body = next;
    }
}

#[tokio::test]
async fn mutations_appear_in_changelogs_and_lists() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(2_000))
        .await
        .unwrap();
    sandbox.advance_clock(Duration::hours(2));
    let since = sandbox.now();
    sandbox.advance_clock(Duration::minutes(1));

    // A new customer, an updated customer, a deleted one.
    let new_id = sandbox.create_customer(1, "Atelier Nouveau SAS").unwrap();
    let (_, first_page) = get(&sandbox, "/customers", &[("limit", "2".into())]).await;
    let ids: Vec<i64> = first_page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids[0], new_id,
        "default sort -id puts the new customer first"
    );
    let updated = ids[1];
    sandbox
        .update(
            1,
            Resource::Customers,
            updated,
            json!({ "name": "Nouveau nom" }),
        )
        .unwrap();
    let deleted = sandbox.record(1, Resource::Customers, updated - 1).unwrap()["id"]
        .as_i64()
        .unwrap();
    sandbox.delete(1, Resource::Customers, deleted).unwrap();
    let events = events_since(&sandbox, "customers", ts(since)).await;
    let ops: Vec<(i64, &str)> = events
        .iter()
        .map(|e| (e["id"].as_i64().unwrap(), e["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ops,
        [(new_id, "insert"), (updated, "update"), (deleted, "delete")]
    );
    assert!(
        events
            .iter()
            .all(|e| e["processed_at"].as_str().unwrap() >= ts(since).as_str())
    );
    let (status, _) = get(&sandbox, &format!("/customers/{deleted}"), &[]).await;
    assert_eq!(status, 404);
    let filter =
        json!([{"field": "id", "operator": "in", "value": [new_id, updated, deleted]}]).to_string();
    let (_, body) = get(&sandbox, "/customers", &[("filter", filter)]).await;
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Atelier Nouveau SAS", "Nouveau nom"]);
    // No list filters on `updated_at` (the spec's changelogs replace it): a 400.
    let filter =
        json!([{"field": "updated_at", "operator": "gteq", "value": ts(since)}]).to_string();
    let (status, _) = get(&sandbox, "/customers", &[("filter", filter)]).await;
    assert_eq!(status, 400);

    // An invoice paid: the invoice, a transaction, a balanced entry, all in changelogs.
    let filter = json!([{"field": "credit_note", "operator": "eq", "value": false}, {"field": "draft", "operator": "eq", "value": false}]).to_string();
    let (_, invoices) = get(
        &sandbox,
        "/customer_invoices",
        &[("filter", filter), ("limit", "100".into())],
    )
    .await;
    let unpaid: Vec<Value> = invoices["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["paid"] == json!(false) && i["status"] != "proforma")
        .cloned()
        .collect();
    let unpaid = json!({ "items": unpaid });
    let invoice = unpaid["items"][0].clone();
    let invoice_id = invoice["id"].as_i64().unwrap();
    let paid = sandbox.pay_customer_invoice(1, invoice_id).unwrap();
    let (_, now) = get(&sandbox, &format!("/customer_invoices/{invoice_id}"), &[]).await;
    assert_eq!(
        (
            now["paid"].clone(),
            now["remaining_amount_with_tax"].clone()
        ),
        (json!(true), json!("0.00"))
    );
    let (_, payments) = get(
        &sandbox,
        &format!("/customer_invoices/{invoice_id}/payments"),
        &[],
    )
    .await;
    assert_eq!(payments["items"][0]["id"], paid.payment_id);
    assert_eq!(payments["items"][0]["currency_amount"], invoice["amount"]);
    let line_events = events_since(&sandbox, "ledger_entry_lines", ts(since)).await;
    let inserted: Vec<i64> = line_events
        .iter()
        .filter(|e| e["operation"] == "insert")
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(inserted, paid.ledger_entry_line_ids);
    let mut sums = (Decimal::ZERO, Decimal::ZERO);
    for id in paid.ledger_entry_line_ids {
        let (_, line) = get(&sandbox, &format!("/ledger_entry_lines/{id}"), &[]).await;
        sums.0 += line["debit"].as_str().unwrap().parse::<Decimal>().unwrap();
        sums.1 += line["credit"].as_str().unwrap().parse::<Decimal>().unwrap();
    }
    assert_eq!(sums.0, sums.1);
    assert_eq!(sums.0.to_string(), invoice["amount"].as_str().unwrap());
    // The payment letters the invoice's receivable line: both name the pair.
    let customer_line = paid.ledger_entry_line_ids[1];
    let (_, lettered) = get(
        &sandbox,
        &format!("/ledger_entry_lines/{customer_line}/lettered_ledger_entry_lines"),
        &[],
    )
    .await;
    let lettered = lettered["items"].as_array().unwrap();
    assert_eq!(lettered.len(), 2, "{lettered:?}");
    let receivable = lettered
        .iter()
        .find(|l| l["id"] != json!(customer_line))
        .unwrap();
    assert_eq!(
        receivable["ledger_entry"]["id"], invoice["ledger_entry"]["id"],
        "the invoice's own line"
    );
    let (_, line) = get(
        &sandbox,
        &format!("/ledger_entry_lines/{customer_line}"),
        &[],
    )
    .await;
    let mut pair = vec![receivable["id"].as_i64().unwrap(), customer_line];
    pair.sort_unstable();
    assert_eq!(line["lettered_ledger_entry_lines"]["ids"], json!(pair));
    let tx_events = events_since(&sandbox, "transactions", ts(since)).await;
    assert_eq!(tx_events.len(), 1);
    assert_eq!(tx_events[0]["id"], paid.transaction_id);
    assert!(
        sandbox.pay_customer_invoice(1, invoice_id).is_err(),
        "already paid"
    );

    // An invoice deleted: its entry and lines go too, recorded as deletes.
    let other = unpaid["items"][1]["id"].as_i64().unwrap();
    let entry_id = unpaid["items"][1]["ledger_entry"]["id"].as_i64().unwrap();
    sandbox
        .delete(1, Resource::CustomerInvoices, other)
        .unwrap();
    let (status, _) = get(&sandbox, &format!("/ledger_entries/{entry_id}"), &[]).await;
    assert_eq!(status, 404);
    let line_events = events_since(&sandbox, "ledger_entry_lines", ts(since)).await;
    let deletes = line_events
        .iter()
        .filter(|e| e["operation"] == "delete")
        .count();
    assert!(
        deletes >= 3,
        "an invoice entry has at least 3 lines, got {deletes} deletes"
    );
    let invoice_events = events_since(&sandbox, "customer_invoices", ts(since)).await;
    let ops: Vec<&str> = invoice_events
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["update", "delete"]);

    // A ledger entry relabelled: one update per line.
    let (_, entries) = get(&sandbox, "/ledger_entries", &[("limit", "1".into())]).await;
    let entry = entries["items"][0]["id"].as_i64().unwrap();
    let before = events_since(&sandbox, "ledger_entry_lines", ts(since))
        .await
        .len();
    sandbox
        .relabel_ledger_entry(1, entry, "Libellé corrigé")
        .unwrap();
    let after = events_since(&sandbox, "ledger_entry_lines", ts(since)).await;
    assert!(after.len() > before + 1);
    assert!(after[before..].iter().all(|e| e["operation"] == "update"));
}

#[tokio::test]
async fn changelog_windows_respect_retention_and_refuse_start_date_with_cursor() {
    let sandbox = Sandbox::start(SandboxConfig::unthrottled(20_000))
        .await
        .unwrap();
    let now = sandbox.now();
    // Generated records created within the retention show as inserts, in order.
    let (status, body) = get(
        &sandbox,
        "/changelogs/ledger_entry_lines",
        &[
            ("start_date", ts(now - Duration::days(3))),
            ("limit", "1000".into()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["operation"] == "insert"));
    let times: Vec<&str> = items
        .iter()
        .map(|e| e["processed_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(times[0] >= ts(now - Duration::days(3)).as_str());

    let (status, body) = get(
        &sandbox,
        "/changelogs/customers",
        &[("start_date", ts(now - Duration::days(29)))],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("retention"));
    let (status, body) = get(
        &sandbox,
        "/changelogs/customers",
        &[
            ("start_date", ts(now - Duration::days(27))),
            ("limit", "1".into()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let cursor = body["next_cursor"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| "00".into());
    let (status, _) = get(
        &sandbox,
        "/changelogs/customers",
        &[("start_date", ts(now)), ("cursor", cursor)],
    )
    .await;
    assert_eq!(status, 400);
    // After the clock moves on, a window that was fine falls out of retention.
    sandbox.advance_clock(Duration::days(2));
    let (status, _) = get(
        &sandbox,
        "/changelogs/customers",
        &[("start_date", ts(now - Duration::days(27)))],
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = get(&sandbox, "/changelogs/journals", &[]).await;
    assert_eq!(status, 404, "journals have no changelog");
}
