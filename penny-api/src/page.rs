//! Cursor pagination: one request type and one stream for every list endpoint.
//!
//! The API's lists answer `{"items": [...], "has_more": bool, "next_cursor": ...}`.
//! The cursor does not carry the `filter` nor the `sort`: a [`ListRequest`] sends them
//! again on every page (without them, pages 2+ come back unfiltered, with no error).
//! `limit` is checked against the endpoint's maximum before anything is sent, because
//! the API answers 400 to an out-of-bounds limit instead of capping it.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::filter::Filter;

/// The maximum `limit` of each list endpoint, from Pennylane's Company API v2 spec
/// (`Must be between 1 and N`); a path segment `*` stands for any one segment (an id).
/// Every list of this crate takes its maximum from here ([`max_limit`]); an endpoint
/// not listed has [`DEFAULT_MAX_LIMIT`].
pub const MAX_LIMIT: &[(&str, u32)] = &[
    ("/ledger_accounts", 1000),
    ("/trial_balance", 1000),
    ("/changelogs/*", 1000),
    ("/journals", 100),
    ("/ledger_entries", 100),
    ("/ledger_entries/*/ledger_entry_lines", 100),
    ("/ledger_entry_lines", 100),
    ("/ledger_entry_lines/*/categories", 100),
    ("/ledger_entry_lines/*/lettered_ledger_entry_lines", 100),
    ("/fiscal_years", 100),
    ("/customers", 100),
    ("/suppliers", 100),
    ("/products", 100),
    ("/customer_invoices", 100),
    ("/customer_invoices/*/invoice_lines", 100),
    ("/customer_invoices/*/payments", 100),
    ("/supplier_invoices", 100),
    ("/supplier_invoices/*/invoice_lines", 100),
    ("/supplier_invoices/*/payments", 100),
    ("/transactions", 100),
    ("/bank_accounts", 100),
    ("/categories", 100),
    ("/category_groups", 100),
];

/// The maximum `limit` of a list endpoint the [`MAX_LIMIT`] table does not name (the
/// spec's most common bound).
pub const DEFAULT_MAX_LIMIT: u32 = 100;

/// The maximum `limit` of `endpoint` (a path below the base URL, such as
/// `/ledger_accounts` or `/customer_invoices/42/invoice_lines`), from [`MAX_LIMIT`].
///
/// ```
/// assert_eq!(penny_api::page::max_limit("/ledger_accounts"), 1000);
/// assert_eq!(penny_api::page::max_limit("/changelogs/customers"), 1000);
/// assert_eq!(penny_api::page::max_limit("/customer_invoices/7/invoice_lines"), 100);
/// assert_eq!(penny_api::page::max_limit("/ledger_entries"), 100);
/// ```
pub fn max_limit(endpoint: &str) -> u32 {
    let path = endpoint.split('?').next().unwrap_or(endpoint);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    MAX_LIMIT
        .iter()
        .find(|(pattern, _)| {
            let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
            pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| *p == "*" || p == s)
        })
        .map_or(DEFAULT_MAX_LIMIT, |(_, max)| *max)
}

/// The largest number of ids sent in one `in` filter. The spec bounds no `in` list;
/// 100 ids also fit one page of every list they are sent to (`limit` at most 100 on
/// ledger entries, lines and invoices), so every id asked for comes back in one page.
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// Whether another page follows.
    pub has_more: bool,
    /// The cursor of the next page (opaque and short-lived: never store it).
    pub next_cursor: Option<String>,
    /// When the server answered, by its own clock (the `Date` header), if it said.
    pub server_time: Option<DateTime<Utc>>,
    /// The page's `included` section, when the request asked for related resources
    /// (`include=invoice_lines` on customer invoices) and the API sent them.
    pub included: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_cursor: Option<String>,
    #[serde(default, borrow)]
    included: Option<&'a RawValue>,
}

/// A list request: endpoint, `limit`, filters, sort and extra parameters, sent
/// again on every page. Get one from the client (`client.customers()`...).
///
/// `T` is the item type: a typed model, or [`serde_json::Value`] after
/// [`ListRequest::raw`] for every field as delivered.
pub struct ListRequest<T> {
    client: Client,
    endpoint: String,
    resource: String,
    max_limit: u32,
    limit: u32,
    filters: Vec<Filter>,
    sort: Option<String>,
    params: Vec<(String, String)>,
    _item: PhantomData<fn() -> T>,
}

impl<T> Clone for ListRequest<T> {
    fn clone(&self) -> Self {
        ListRequest {
            client: self.client.clone(),
            endpoint: self.endpoint.clone(),
            resource: self.resource.clone(),
            max_limit: self.max_limit,
            limit: self.limit,
            filters: self.filters.clone(),
            sort: self.sort.clone(),
            params: self.params.clone(),
            _item: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ListRequest<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListRequest")
            .field("endpoint", &self.endpoint)
            .field("limit", &self.limit)
            .field("filters", &self.filters)
            .field("sort", &self.sort)
            .field("params", &self.params)
            .finish()
    }
}

impl<T> ListRequest<T> {
    /// A request for `endpoint` (a path such as `/customers`), whose records are called
    /// `resource` in errors; its `limit` is the endpoint's maximum from [`MAX_LIMIT`]
    /// (also the default, for the fewest requests).
    pub fn new(client: Client, endpoint: impl Into<String>, resource: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        let max_limit = max_limit(&endpoint);
        ListRequest {
            client,
            endpoint,
            resource: resource.into(),
            max_limit,
            limit: max_limit,
            filters: Vec::new(),
            sort: None,
            params: Vec::new(),
            _item: PhantomData,
        }
    }

    /// Records per page (default: the endpoint's maximum, for the fewest requests).
    /// Checked when the first page is requested: out of `1..=max`, nothing is sent.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Adds a condition (conditions are combined with AND).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Adds several conditions.
    pub fn filters(mut self, filters: impl IntoIterator<Item = Filter>) -> Self {
        self.filters.extend(filters);
        self
    }

    /// The sort: a field, `-` first for descending (the API's default is `-id`).
    pub fn sort(mut self, sort: impl Into<String>) -> Self {
        self.sort = Some(sort.into());
        self
    }

    /// Adds a query parameter the typed methods do not cover.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The same request, yielding every record as raw JSON.
    pub fn raw(self) -> ListRequest<serde_json::Value> {
        self.cast()
    }

    /// The same request, yielding each typed record with its raw JSON.
    pub fn with_raw(self) -> ListRequest<crate::models::Raw<T>> {
        self.cast()
    }

    /// The same request, yielding records decoded as `U`.
    pub fn cast<U>(self) -> ListRequest<U> {
        ListRequest {
            client: self.client,
            endpoint: self.endpoint,
            resource: self.resource,
            max_limit: self.max_limit,
            limit: self.limit,
            filters: self.filters,
            sort: self.sort,
            params: self.params,
            _item: PhantomData,
        }
    }

    /// The endpoint's path.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The endpoint's maximum `limit`.
    pub fn max_limit(&self) -> u32 {
        self.max_limit
    }

    /// The query string parameters of the page after `cursor` (the first page without).
    pub fn query(&self, cursor: Option<&str>) -> Result<Vec<(String, String)>> {
        if self.limit == 0 || self.limit > self.max_limit {
            return Err(Error::InvalidLimit {
                endpoint: self.endpoint.clone(),
                limit: self.limit,
                max: self.max_limit,
            });
        }
        let mut query = vec![("limit".to_owned(), self.limit.to_string())];
        if !self.filters.is_empty() {
            query.push(("filter".to_owned(), Filter::to_query(&self.filters)));
        }
        if let Some(sort) = &self.sort {
            query.push(("sort".to_owned(), sort.clone()));
        }
        query.extend(self.params.iter().cloned());
        if let Some(cursor) = cursor {
            query.push(("cursor".to_owned(), cursor.to_owned()));
        }
        Ok(query)
    }
}

impl<T: DeserializeOwned + Send + 'static> ListRequest<T> {
    /// Fetches the page after `cursor` (the first page when `None`).
    pub async fn page(&self, cursor: Option<&str>) -> Result<Page<T>> {
        let query = self.query(cursor)?;
        let (body, server_time) = self.client.get_timed(&self.endpoint, &query).await?;
        let mut page = decode_page(&self.resource, &body)?;
        page.server_time = server_time;
        Ok(page)
    }

    /// Every page, in order; filters and sort are sent again with each cursor.
    pub fn pages(self) -> BoxStream<'static, Result<Page<T>>> {
        paginate(self)
    }

    /// Every record of every page, in order.
    pub fn items(self) -> BoxStream<'static, Result<T>> {
        items_of(self.pages())
    }

    /// Every record, collected (for small lists).
    pub async fn all(self) -> Result<Vec<T>> {
        self.items().try_collect().await
    }

    /// The records whose id is in `ids`, fetched with `id in [...]` filters in chunks of
    /// at most [`MAX_IDS_PER_REQUEST`] (one request per chunk), on top of this request's
    /// own filters. Ids that no longer exist are simply absent from the result.
    pub fn by_ids(self, ids: impl IntoIterator<Item = i64>) -> BoxStream<'static, Result<T>> {
        let ids: Vec<i64> = ids.into_iter().collect();
        let chunk = (self.max_limit as usize).clamp(1, MAX_IDS_PER_REQUEST);
        let chunks: Vec<Vec<i64>> = ids.chunks(chunk).map(<[i64]>::to_vec).collect();
        let limit = chunk as u32;
        Box::pin(
            stream::iter(chunks)
                .map(move |ids| {
                    self.clone()
                        .limit(limit)
                        .filter(Filter::is_in("id", ids))
                        .items()
                })
                .flatten(),
        )
    }
}

/// A request that fetches the page after a cursor: what [`paginate`] follows. Both list
/// requests and change-log reads are one, so the cursor loop is written once.
pub(crate) trait CursorPages: Send + Sync + Sized + 'static {
    /// The records of a page.
    type Item: Send + 'static;

    /// The endpoint's path, for errors.
    fn endpoint_path(&self) -> String;

    /// Fetches the page after `cursor` (the first page when `None`).
    fn fetch_page(
        &self,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Self::Item>>> + Send;
}

impl<T: DeserializeOwned + Send + 'static> CursorPages for ListRequest<T> {
    type Item = T;

    fn endpoint_path(&self) -> String {
        self.endpoint.clone()
    }

    fn fetch_page(&self, cursor: Option<&str>) -> impl Future<Output = Result<Page<T>>> + Send {
        self.page(cursor)
    }
}

/// Every page of `request`, in order, following `next_cursor` while `has_more`; a cursor
/// returned twice in a row stops the stream with an error instead of looping.
pub(crate) fn paginate<R: CursorPages>(request: R) -> BoxStream<'static, Result<Page<R::Item>>> {
    let start: Option<(R, Option<String>)> = Some((request, None));
    Box::pin(stream::try_unfold(start, |state| async move {
        let Some((request, cursor)) = state else {
            return Ok(None);
        };
        let page = request.fetch_page(cursor.as_deref()).await?;
        let next = match (&page.next_cursor, page.has_more) {
            (Some(next), true) if cursor.as_ref() == Some(next) => {
                return Err(Error::InvalidRequest {
                    endpoint: request.endpoint_path(),
                    reason: "the API returned the same cursor twice; stopping".to_owned(),
                });
            }
            (Some(next), true) => Some((request, Some(next.clone()))),
            _ => None,
        };
        Ok(Some((page, next)))
    }))
}

/// The records of `pages`, in order.
pub(crate) fn items_of<T: Send + 'static>(
    pages: BoxStream<'static, Result<Page<T>>>,
) -> BoxStream<'static, Result<T>> {
    Box::pin(
        pages
            .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten(),
    )
}

/// Decodes a page, each record on its own so that an error names its id and field.
pub(crate) fn decode_page<T: DeserializeOwned>(resource: &str, body: &[u8]) -> Result<Page<T>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let raw: RawPage<'_> =
        serde_path_to_error::deserialize(&mut de).map_err(|error| Error::Decode {
            resource: resource.to_owned(),
            id: None,
            path: error.path().to_string(),
            source: error.into_inner(),
        })?;
    let mut items = Vec::with_capacity(raw.items.len());
    for item in raw.items {
        items.push(decode_record(resource, item.get())?);
    }
    let included = match raw.included {
        None => None,
        Some(json) => Some(
            serde_json::from_str(json.get()).map_err(|source| Error::Decode {
                resource: resource.to_owned(),
                id: None,
                path: "included".to_owned(),
                source,
            })?,
        ),
    };
    Ok(Page {
        items,
        has_more: raw.has_more,
        next_cursor: raw.next_cursor,
        server_time: None,
        included,
    })
}

/// Decodes one record; an error names the resource, the record's `id` if it has
/// one, and the path of the failing field.
pub fn decode_record<T: DeserializeOwned>(resource: &str, json: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|error| {
        #[derive(Deserialize)]
        struct WithId {
            id: Option<serde_json::Value>,
        }
        let id = serde_json::from_str::<WithId>(json)
            .ok()
            .and_then(|r| r.id)
            .and_then(|id| id.as_i64().or_else(|| id.as_str()?.parse().ok()));
        Error::Decode {
            resource: resource.to_owned(),
            id,
            path: error.path().to_string(),
            source: error.into_inner(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ListRequest<serde_json::Value> {
        let client = Client::builder().token("t").build().expect("client");
        ListRequest::new(client, "/customers", "customers")
    }

    #[test]
    fn every_list_takes_its_maximum_from_the_table() {
        let client = Client::builder().token("t").build().expect("client");
        assert_eq!(client.ledger_accounts().max_limit(), 1000);
        assert_eq!(client.journals().max_limit(), 100);
        assert_eq!(client.ledger_entry_lines().max_limit(), 100);
        assert_eq!(
            client
                .trial_balance(
                    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
                    chrono::NaiveDate::from_ymd_opt(2026, 12, 31).expect("date"),
                    true
                )
                .max_limit(),
            1000
        );
        assert_eq!(max_limit("/changelogs/ledger_entry_lines"), 1000);
        assert_eq!(max_limit("/supplier_invoices/3/payments"), 100);
        assert!(client.ledger_accounts().limit(1000).query(None).is_ok());
        assert!(client.ledger_accounts().limit(1001).query(None).is_err());
    }

    #[test]
    fn query_carries_filters_sort_and_cursor() {
        let req = request()
            .limit(50)
            .filter(Filter::eq("customer_type", "company"))
            .sort("id");
        let q = req.query(Some("abc")).expect("valid");
        assert_eq!(
            q,
            vec![
                ("limit".to_owned(), "50".to_owned()),
                (
                    "filter".to_owned(),
                    r#"[{"field":"customer_type","operator":"eq","value":"company"}]"#.to_owned()
                ),
                ("sort".to_owned(), "id".to_owned()),
                ("cursor".to_owned(), "abc".to_owned()),
            ]
        );
    }

    #[test]
    fn limit_out_of_bounds_is_refused() {
        assert!(matches!(
            request().limit(101).query(None),
            Err(Error::InvalidLimit {
                limit: 101,
                max: 100,
                ..
            })
        ));
        assert!(request().limit(0).query(None).is_err());
        assert!(request().limit(100).query(None).is_ok());
    }

    #[test]
    fn a_bad_record_names_its_id_and_field() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Invoice {
            id: i64,
            amount: rust_decimal::Decimal,
        }
        let body = br#"{"items":[{"id":1,"amount":"1.00"},{"id":7,"amount":"12,00"}],"has_more":false,"next_cursor":null}"#;
        let err = decode_page::<Invoice>("customer_invoices", body).expect_err("bad amount");
        match err {
            Error::Decode {
                resource, id, path, ..
            } => {
                assert_eq!(
                    (resource.as_str(), id, path.as_str()),
                    ("customer_invoices", Some(7), "amount")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
