//! The `Date` response header, formatted at most once per second per thread.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A per-thread cache of the current IMF-fixdate (what hyper does too): a server
/// thread formats the `Date` header once per second, not once per response.
///
/// ```
/// let date = ingest::DateCache.with(str::to_owned);
/// assert!(date.ends_with(" GMT"));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct DateCache;

/// The formatted date and the instant (monotonic) its second ends.
struct Cached {
    until: Option<Instant>,
    text: String,
}

thread_local! {
    static CACHE: RefCell<Cached> = const {
        RefCell::new(Cached {
            until: None,
            text: String::new(),
        })
    };
}

impl DateCache {
    /// Calls `f` with the current date header value.
    pub fn with<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        self.with_at(Instant::now(), f)
    }

    /// [`with`](Self::with) for a caller that read the monotonic clock already (`now`):
    /// the wall clock is read only once the cached second has passed.
    pub fn with_at<T>(&self, now: Instant, f: impl FnOnce(&str) -> T) -> T {
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.until.is_none_or(|until| now >= until) {
                let wall = SystemTime::now();
                let into_second = wall
                    .duration_since(UNIX_EPOCH)
                    .map_or(Duration::ZERO, |since| {
                        Duration::from_nanos(since.subsec_nanos().into())
                    });
                cache.text = httpdate::fmt_http_date(wall);
                cache.until = now.checked_add(Duration::from_secs(1) - into_second);
            }
            f(&cache.text)
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

    #[test]
    fn the_date_is_stable_within_its_second_and_never_goes_back() {
        let now = Instant::now();
        let first = DateCache.with_at(now, str::to_owned);
        assert_eq!(DateCache.with_at(now, str::to_owned), first);
        // Two seconds on (by the caller's clock) the second has passed whatever the
        // wall clock's phase: the date is formatted again from the wall clock.
        let later = DateCache.with_at(now + Duration::from_secs(2), str::to_owned);
        let wall = httpdate::parse_http_date(&later).unwrap();
        let first = httpdate::parse_http_date(&first).unwrap();
        assert!(wall >= first);
    }
}
