//! Cursor pagination as PingOne documents it: `limit` asks for a page size, the answer's
//! `_links.next` carries an opaque, URL-safe `cursor`, and `size` is the size of the page.
//! Without `limit` a collection comes whole.

use super::access::Effective;
use super::errors::{ApiError, ApiResult, ErrorDetail};
use super::roles::Scope;
use super::shared::Shared;
use super::state::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// What a list request asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PageRequest {
    limit: Option<usize>,
    /// The sequence number of the last item of the previous page.
    after: Option<u64>,
}

impl PageRequest {
    /// Reads `limit` and `cursor` from a query string.
    pub(crate) fn from_query(query: Option<&str>) -> ApiResult<Self> {
        let mut request = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    let limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|&limit| limit > 0)
                        .ok_or_else(|| {
                            ApiError::invalid(ErrorDetail::invalid(
                                "limit",
                                "limit must be a positive integer",
                            ))
                        })?;
                    request.limit = Some(limit);
                }
                "cursor" => {
                    request.after = Some(decode_cursor(&value).ok_or_else(|| {
                        ApiError::invalid(ErrorDetail::invalid("cursor", "cursor is not valid"))
                    })?);
                }
                _ => {}
            }
        }
        Ok(request)
    }

    /// The page of `items` (sorted by their sequence numbers), and the cursor of the next page
    /// when there is one.
    pub(crate) fn page<T>(&self, mut items: Vec<(u64, T)>) -> (Vec<T>, Option<String>) {
        items.sort_by_key(|(sequence, _)| *sequence);
        let remaining: Vec<(u64, T)> = match self.after {
            Some(after) => items
                .into_iter()
                .filter(|(sequence, _)| *sequence > after)
                .collect(),
            None => items,
        };
        let limit = self.limit.unwrap_or(usize::MAX);
        let has_more = remaining.len() > limit;
        let page: Vec<(u64, T)> = remaining.into_iter().take(limit).collect();
        let next = has_more
            .then(|| page.last().map(|(sequence, _)| encode_cursor(*sequence)))
            .flatten();
        (page.into_iter().map(|(_, item)| item).collect(), next)
    }

    fn limit(&self) -> Option<usize> {
        self.limit
    }
}

fn encode_cursor(after: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{after}"))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let decoded = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(decoded)
        .ok()?
        .strip_prefix("after:")?
        .parse()
        .ok()
}

/// Where a collection lives and what `_embedded` calls its items.
pub(crate) struct Collection<'a> {
    /// Its path, e.g. `/v1/roles`.
    pub(crate) path: &'a str,
    /// The query string of the request, echoed in `_links.self`.
    pub(crate) query: Option<&'a str>,
    /// The `_embedded` key, e.g. `roles`.
    pub(crate) key: &'a str,
}

/// An `EntityArray`: `_links.self` (and `next`), `_embedded.<key>`, `count` (the whole
/// collection) and `size` (this page).
pub(crate) fn entity_array(
    shared: &Shared,
    collection: &Collection<'_>,
    request: &PageRequest,
    total: usize,
    items: Vec<Value>,
    next_cursor: Option<String>,
) -> Value {
    let Collection { path, query, key } = *collection;
    let self_path = match query {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    };
    let mut links = json!({ "self": shared.link(&self_path) });
    if let Some(cursor) = next_cursor {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        if let Some(limit) = request.limit() {
            next.append_pair("limit", &limit.to_string());
        }
        next.append_pair("cursor", &cursor);
        links["next"] = shared.link(&format!("{path}?{}", next.finish()));
    }
    let size = items.len();
    json!({
        "_links": links,
        "_embedded": { key: items },
        "count": total,
        "size": size,
    })
}

/// A resource kind listed under `/environments/{envID}/KEY`, for [`list_in_environment`].
pub(crate) struct EnvironmentListing<'a> {
    /// The environment listed.
    pub(crate) environment_id: &'a str,
    /// The request's query (`limit`, `cursor`).
    pub(crate) query: Option<&'a str>,
    /// The `_embedded` key and the last path segment, e.g. `applications`.
    pub(crate) key: &'a str,
    /// The permission that lets a caller read one item, or all of them over the environment.
    pub(crate) permission: &'a str,
}

/// `GET /environments/{envID}/KEY`: the items a caller may read (all, when it may read them
/// over the environment; else those it may read one by one, 403 when none), paged in creation
/// order. `items` gives each item of the environment with its sequence and its own scope.
pub(crate) fn list_in_environment<'s, T: 's>(
    shared: &Shared,
    state: &'s State,
    effective: &Effective<'_>,
    listing: &EnvironmentListing<'_>,
    items: impl Iterator<Item = (u64, Scope, &'s T)>,
    to_json: impl Fn(&T) -> Value,
) -> ApiResult<Value> {
    let EnvironmentListing {
        environment_id,
        query,
        ..
    } = *listing;
    let request = PageRequest::from_query(query)?;
    let environment = state
        .environment(environment_id)
        .ok_or_else(ApiError::not_found)?;
    let sees_all = effective.allows(state, listing.permission, &environment.scope());
    let visible: Vec<(u64, &T)> = items
        .filter(|(_, scope, _)| sees_all || effective.allows(state, listing.permission, scope))
        .map(|(sequence, _, item)| (sequence, item))
        .collect();
    if !sees_all && visible.is_empty() {
        return Err(ApiError::forbidden());
    }
    let total = visible.len();
    let (page, next) = request.page(visible);
    let items = page.into_iter().map(to_json).collect();
    let path = format!("/v1/environments/{environment_id}/{}", listing.key);
    let collection = Collection {
        path: &path,
        query,
        key: listing.key,
    };
    Ok(entity_array(
        shared,
        &collection,
        &request,
        total,
        items,
        next,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: u64) -> Vec<(u64, u64)> {
        (1..=n).rev().map(|i| (i, i)).collect()
    }

    #[test]
    fn without_limit_everything_comes_in_order_on_one_page() {
        let (page, next) = PageRequest::default().page(numbered(5));
        assert_eq!(page, vec![1, 2, 3, 4, 5]);
        assert_eq!(next, None);
    }

    #[test]
    fn following_cursors_walks_every_item_once() {
        let mut seen = Vec::new();
        let mut query = "limit=2".to_owned();
        loop {
            let request = PageRequest::from_query(Some(&query)).unwrap();
            let (page, next) = request.page(numbered(5));
            seen.extend(page);
            match next {
                Some(cursor) => query = format!("limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn an_exact_last_page_has_no_next() {
        let request = PageRequest::from_query(Some("limit=5")).unwrap();
        assert_eq!(request.page(numbered(5)).1, None);
    }

    #[test]
    fn bad_limits_and_cursors_are_invalid_data() {
        for query in [
            "limit=0",
            "limit=-1",
            "limit=many",
            "cursor=%%%",
            "cursor=bm90LWEtY3Vyc29y",
        ] {
            let error = PageRequest::from_query(Some(query)).unwrap_err();
            assert_eq!(error.code, "INVALID_DATA", "{query}");
        }
    }
}
