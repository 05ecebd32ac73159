//! `GET /changelogs/<resource>`: what changed since a date.

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::stream::BoxStream;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::ChangelogEvent;
use crate::page::{CursorPages, Page, decode_page, items_of, max_limit, paginate};

/// The resources that have a change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangelogResource {
    /// Customer invoices.
    CustomerInvoices,
    /// Supplier invoices.
    SupplierInvoices,
    /// Customers.
    Customers,
    /// Suppliers.
    Suppliers,
    /// Products.
    Products,
    /// Bank transactions.
    Transactions,
    /// Ledger entry lines.
    LedgerEntryLines,
}

impl ChangelogResource {
    /// Every resource with a change log.
    pub const ALL: [ChangelogResource; 7] = [
        ChangelogResource::CustomerInvoices,
        ChangelogResource::SupplierInvoices,
        ChangelogResource::Customers,
        ChangelogResource::Suppliers,
        ChangelogResource::Products,
        ChangelogResource::Transactions,
        ChangelogResource::LedgerEntryLines,
    ];

    /// The resource's name (`customer_invoices`...).
    pub fn name(self) -> &'static str {
        match self {
            ChangelogResource::CustomerInvoices => "customer_invoices",
            ChangelogResource::SupplierInvoices => "supplier_invoices",
            ChangelogResource::Customers => "customers",
            ChangelogResource::Suppliers => "suppliers",
            ChangelogResource::Products => "products",
            ChangelogResource::Transactions => "transactions",
            ChangelogResource::LedgerEntryLines => "ledger_entry_lines",
        }
    }

    /// The resource of that name, if it has a change log.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The change log's path (`/changelogs/customer_invoices`...).
    pub fn path(self) -> String {
        format!("/changelogs/{}", self.name())
    }
}

/// Where a change-log read starts: a date, or a cursor from a previous page. One or
/// the other, never both (the API answers 400 to both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangelogStart {
    /// Events processed at or after this instant (at most the retention old).
    Since(DateTime<Utc>),
    /// The continuation of an earlier read (cursors are short-lived: do not store them).
    Cursor(String),
}

/// A change-log read. Get one with [`Client::changelog`].
///
/// The first request sends `start_date` or `cursor`; every next page sends only the
/// cursor the API returned. A start older than the client's
/// [`changelog_retention`](crate::ClientBuilder::changelog_retention) is refused
/// before sending, and the API's 422 for a start out of retention is mapped to the
/// same [`Error::ResyncNeeded`].
#[derive(Debug, Clone)]
pub struct ChangelogRequest {
    client: Client,
    resource: ChangelogResource,
    start: ChangelogStart,
    limit: u32,
}

impl Client {
    /// The change log of `resource` from `start`.
    ///
    /// ```no_run
    /// # async fn run(client: penny_api::Client) -> penny_api::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use penny_api::{ChangelogResource, ChangelogStart};
    ///
    /// let since = chrono::Utc::now() - chrono::Duration::days(1);
    /// let events: Vec<_> = client
    ///     .changelog(ChangelogResource::CustomerInvoices, ChangelogStart::Since(since))
    ///     .events()
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn changelog(
        &self,
        resource: ChangelogResource,
        start: ChangelogStart,
    ) -> ChangelogRequest {
        ChangelogRequest {
            client: self.clone(),
            resource,
            start,
            limit: max_limit(&resource.path()),
        }
    }
}

impl ChangelogRequest {
    /// Events per page (1..=1000, default 1000).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// The resource.
    pub fn resource(&self) -> ChangelogResource {
        self.resource
    }

    /// The query of the first page (`cursor` = `None`) or of the page after `cursor`.
    pub fn query(&self, cursor: Option<&str>) -> Result<Vec<(String, String)>> {
        let endpoint = self.resource.path();
        let max = max_limit(&endpoint);
        if self.limit == 0 || self.limit > max {
            return Err(Error::InvalidLimit {
                endpoint,
                limit: self.limit,
                max,
            });
        }
        let mut query = vec![("limit".to_owned(), self.limit.to_string())];
        let cursor = match (cursor, &self.start) {
            (Some(cursor), _) => Some(cursor),
            (None, ChangelogStart::Cursor(cursor)) => Some(cursor.as_str()),
            (None, ChangelogStart::Since(_)) => None,
        };
        match (cursor, &self.start) {
            (Some(cursor), _) => {
                if cursor.is_empty() {
                    return Err(Error::InvalidRequest {
                        endpoint,
                        reason: "an empty changelog cursor".to_owned(),
                    });
                }
                query.push(("cursor".to_owned(), cursor.to_owned()));
            }
            (None, ChangelogStart::Since(start)) => {
                if let Some(retention) = self.client.changelog_retention()
                    && *start < Utc::now() - retention
                {
                    return Err(Error::ResyncNeeded {
                        resource: self.resource.name().to_owned(),
                        start: *start,
                        message: String::new(),
                    });
                }
                query.push((
                    "start_date".to_owned(),
                    start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                ));
            }
            // A cursor start always yields `Some` above.
            (None, ChangelogStart::Cursor(_)) => {}
        }
        Ok(query)
    }

    /// The first page (`cursor` = `None`) or the page after `cursor`.
    pub async fn page(&self, cursor: Option<&str>) -> Result<Page<ChangelogEvent>> {
        let query = self.query(cursor)?;
        let endpoint = self.resource.path();
        let resource = format!("changelogs/{}", self.resource.name());
        match self.client.get_timed(&endpoint, &query).await {
            Ok((body, server_time)) => {
                let mut page = decode_page(&resource, &body)?;
                page.server_time = server_time;
                Ok(page)
            }
            Err(Error::Http {
                status: 422,
                message,
                ..
            }) if cursor.is_none() => match &self.start {
                ChangelogStart::Since(start) => Err(Error::ResyncNeeded {
                    resource: self.resource.name().to_owned(),
                    start: *start,
                    message,
                }),
                ChangelogStart::Cursor(_) => Err(Error::Http {
                    status: 422,
                    endpoint,
                    message,
                }),
            },
            Err(other) => Err(other),
        }
    }

    /// Every page, in order.
    pub fn pages(self) -> BoxStream<'static, Result<Page<ChangelogEvent>>> {
        paginate(self)
    }

    /// Every event, in ascending `processed_at` order.
    pub fn events(self) -> BoxStream<'static, Result<ChangelogEvent>> {
        items_of(self.pages())
    }
}

impl CursorPages for ChangelogRequest {
    type Item = ChangelogEvent;

    fn endpoint_path(&self) -> String {
        self.resource.path()
    }

    fn fetch_page(
        &self,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<ChangelogEvent>>> + Send {
        self.page(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::builder().token("t").build().expect("client")
    }

    #[test]
    fn start_date_and_cursor_are_never_sent_together() {
        let since = Utc::now() - chrono::Duration::days(1);
        let req = client().changelog(ChangelogResource::Customers, ChangelogStart::Since(since));
        let first = req.query(None).expect("first");
        assert!(first.iter().any(|(k, _)| k == "start_date"));
        assert!(!first.iter().any(|(k, _)| k == "cursor"));
        let next = req.query(Some("c2")).expect("next");
        assert!(next.iter().any(|(k, v)| k == "cursor" && v == "c2"));
        assert!(!next.iter().any(|(k, _)| k == "start_date"));
        let resumed = client()
            .changelog(
                ChangelogResource::Customers,
                ChangelogStart::Cursor("c1".into()),
            )
            .query(None)
            .expect("cursor");
        assert!(!resumed.iter().any(|(k, _)| k == "start_date"));
    }

    #[test]
    fn a_start_out_of_retention_needs_a_resync() {
        let old = Utc::now() - chrono::Duration::days(29);
        let err = client()
            .changelog(ChangelogResource::Customers, ChangelogStart::Since(old))
            .query(None)
            .expect_err("too old");
        assert!(matches!(err, Error::ResyncNeeded { .. }), "{err}");
        assert!(
            client()
                .changelog(ChangelogResource::Customers, ChangelogStart::Since(old))
                .limit(1001)
                .query(None)
                .is_err()
        );
    }

    #[test]
    fn resources_round_trip_their_names() {
        for r in ChangelogResource::ALL {
            assert_eq!(ChangelogResource::from_name(r.name()), Some(r));
        }
    }
}
