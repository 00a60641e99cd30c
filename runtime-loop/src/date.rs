//! The `Date` response header, formatted at most once per second per worker thread.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// A per-thread cache of the current IMF-fixdate (what hyper does too).
#[derive(Debug, Default)]
pub(crate) struct DateCache;

thread_local! {
    static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl DateCache {
    /// Calls `f` with the current date header value.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != second {
                *cache = (second, httpdate::fmt_http_date(now));
            }
            f(&cache.1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_an_imf_fixdate() {
        let date = DateCache.with(str::to_owned);
        assert_eq!(date.len(), 29, "{date}");
        assert!(date.ends_with(" GMT"));
        assert!(httpdate::parse_http_date(&date).is_ok());
    }
}
