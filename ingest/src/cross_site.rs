//! Who may send requests from a browser page: the cross-site rules, decided once for
//! every path (`POST /`, the REST Proxy API, the probes).
//!
//! Why: `POST /` takes `application/x-www-form-urlencoded`, what `curl -d` sends, and
//! that is also what a browser sends to another origin without asking first (a
//! "simple" request: no CORS preflight). Without these rules any web page an employee
//! opens could write records to an internal gateway.
//!
//! - A request whose `Origin` is not on `--allow-origin` (the serialised origin,
//!   `scheme://host[:port]`, compared without regard to case; none by default), or that
//!   has more than one `Origin`: **403**.
//! - A request without an allowed `Origin` that says `Sec-Fetch-Site: cross-site` (a
//!   browser's fetch metadata, sent also where `Origin` is not, e.g. on a navigation
//!   from another site): **403**.
//! - A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   from an allowed origin to a path that exists: **200** with
//!   `Access-Control-Allow-Origin`, `Access-Control-Allow-Methods` (the path's method),
//!   `Access-Control-Allow-Headers` (those asked for) and `Access-Control-Max-Age: 600`;
//!   to a path that does not exist, that path's 404. From any other origin: 403.
//! - Every other answer to an allowed origin, errors included, carries
//!   `Access-Control-Allow-Origin` (its origin), `Access-Control-Expose-Headers:
//!   Retry-After` and `Vary: Origin`, so the page can read it.
//!
//! Clients that are not browsers (curl, services, probes, load balancers) send neither
//! header and are not affected.

use std::sync::Arc;

use crate::policy::Request;
use crate::Rejection;

/// How long a browser may cache a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

/// The origins allowed to send requests from a browser page.
#[derive(Debug, Clone, Default)]
pub(crate) struct CrossSite {
    allowed: Vec<Arc<str>>,
}

/// What the cross-site rules make of a request that may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission<'a> {
    /// Not a browser's cross-site request: no CORS headers in the answer.
    Plain,
    /// From an allowed origin: its answer carries these CORS headers.
    Allowed(Cors),
    /// A CORS preflight (it asked for a method) from an allowed origin. The answer
    /// names the method the path takes; the browser compares it with its own.
    Preflight {
        /// The allowed origin.
        origin: Arc<str>,
        /// `Access-Control-Request-Headers`, only if a list of tokens.
        headers: Option<&'a str>,
    },
}

/// The CORS header fields of an answer to an allowed origin: the origin's, and for a
/// preflight what it may send. Written alike by both encoders ([`Cors::fields`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    origin: Arc<str>,
    preflight: Option<Preflight>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Preflight {
    methods: &'static str,
    headers: Option<Box<str>>,
}

impl Cors {
    /// The answer to a preflight from `origin` for a path that takes `methods`, asking
    /// to send `headers`.
    pub(crate) fn preflight(
        origin: Arc<str>,
        methods: &'static str,
        headers: Option<&str>,
    ) -> Self {
        Self {
            origin,
            preflight: Some(Preflight {
                methods,
                headers: headers.map(Box::from),
            }),
        }
    }

    /// The header fields (name, value), in order. Every value is a configured origin
    /// (checked by [`parse_origin`]), a constant, or a list of tokens.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let common = [
            ("access-control-allow-origin", &*self.origin),
            ("vary", "Origin"),
        ];
        let rest: [Option<(&'static str, &str)>; 3] = match &self.preflight {
            None => [
                Some(("access-control-expose-headers", "Retry-After")),
                None,
                None,
            ],
            Some(preflight) => [
                Some(("access-control-allow-methods", preflight.methods)),
                preflight
                    .headers
                    .as_deref()
                    .map(|headers| ("access-control-allow-headers", headers)),
                Some(("access-control-max-age", PREFLIGHT_MAX_AGE_SECS)),
            ],
        };
        common.into_iter().chain(rest.into_iter().flatten())
    }
}

impl CrossSite {
    /// Allows `origins`. Each is checked again by [`parse_origin`] (the command line
    /// checks them first): one that is not an origin is left out, with a warning, so
    /// no answer can carry it as a header value.
    pub(crate) fn new(origins: &[String]) -> Self {
        let allowed = origins
            .iter()
            .filter_map(|origin| match parse_origin(origin) {
                Ok(origin) => Some(Arc::from(origin)),
                Err(error) => {
                    tracing::warn!(%error, "allowed origin ignored");
                    None
                }
            })
            .collect();
        Self { allowed }
    }

    /// The cross-site rules for `request` (see the module documentation): whether it
    /// may go on, and with which CORS headers, or 403.
    pub(crate) fn admit<'a>(&self, request: &Request<'a>) -> Result<Admission<'a>, Rejection> {
        let headers = &request.headers;
        let Some(origin) = headers.origin else {
            return match headers.sec_fetch_site {
                Some(site) if site.eq_ignore_ascii_case(b"cross-site") => {
                    Err(Rejection::CrossSite { origin: None })
                }
                _ => Ok(Admission::Plain),
            };
        };
        let allowed = match headers.origin_repeated {
            true => None,
            false => self
                .allowed
                .iter()
                .find(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin)),
        };
        let Some(allowed) = allowed else {
            return Err(Rejection::CrossSite {
                origin: Some(String::from_utf8_lossy(origin).into_owned()),
            });
        };
        let asks_for_a_method = headers
            .access_control_request_method
            .is_some_and(|method| !method.is_empty() && method.iter().all(|&b| is_token_byte(b)));
        match asks_for_a_method {
            true if request.method == "OPTIONS" => Ok(Admission::Preflight {
                origin: Arc::clone(allowed),
                headers: headers
                    .access_control_request_headers
                    .and_then(|list| std::str::from_utf8(list).ok())
                    .filter(|list| {
                        list.bytes()
                            .all(|b| is_token_byte(b) || b == b',' || b == b' ')
                    }),
            }),
            _ => Ok(Admission::Allowed(Cors {
                origin: Arc::clone(allowed),
                preflight: None,
            })),
        }
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Checks one `--allow-origin` value: a serialised origin, `http://` or `https://`
/// then a host (name, IPv4, or `[IPv6]`) and an optional `:port`, nothing else (no
/// path, not even `/`). `*` and `null` are refused: the first would allow every page,
/// the second every sandboxed page and local file.
pub fn parse_origin(value: &str) -> Result<String, String> {
    let refused = |why: &str| Err(format!("`{value}` is not an origin ({why})"));
    let Some((scheme, authority)) = value.split_once("://") else {
        return refused("expected scheme://host[:port], e.g. https://app.example.com");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return refused("the scheme must be http or https");
    }
    let host_and_port_bytes = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b);
    if authority.is_empty() || !authority.bytes().all(host_and_port_bytes) {
        return refused("only a host and an optional :port may follow the scheme");
    }
    Ok(value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RequestHeaders;

    fn admit<'a>(
        cross_site: &CrossSite,
        method: &'a str,
        pairs: &'a [(&'a str, &'a str)],
    ) -> Result<Admission<'a>, Rejection> {
        let headers =
            RequestHeaders::scan(pairs.iter().map(|(name, value)| (*name, value.as_bytes())))
                .unwrap();
        cross_site.admit(&Request {
            method,
            path: "/",
            headers,
            body: b"",
            body_framed: false,
        })
    }

    fn app() -> CrossSite {
        CrossSite::new(&["https://App.example.com".to_owned()])
    }

    #[test]
    fn requests_not_from_a_browser_page_are_plain() {
        for pairs in [
            &[][..],
            &[("Sec-Fetch-Site", "same-origin")],
            &[("Sec-Fetch-Site", "none")],
            &[("Sec-Fetch-Site", "same-site")],
        ] {
            assert_eq!(
                admit(&app(), "POST", pairs),
                Ok(Admission::Plain),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn other_origins_and_cross_site_fetches_are_403() {
        for pairs in [
            &[("Origin", "https://evil.example")][..],
            &[("Origin", "null")],
            &[("Origin", "https://app.example.com.evil.example")],
            &[("Sec-Fetch-Site", "cross-site")],
            &[("sec-fetch-site", "Cross-Site")],
            &[
                ("Origin", "https://app.example.com"),
                ("Origin", "https://evil.example"),
            ],
        ] {
            let error = admit(&app(), "POST", pairs).unwrap_err();
            assert_eq!(error.status(), http::StatusCode::FORBIDDEN, "{pairs:?}");
        }
        let none = CrossSite::default();
        let error = admit(&none, "POST", &[("Origin", "https://app.example.com")]).unwrap_err();
        assert!(
            error.to_string().contains("https://app.example.com"),
            "{error}"
        );
    }

    #[test]
    fn an_allowed_origin_gets_its_cors_headers_even_cross_site() {
        let pairs = [
            ("Origin", "https://app.example.com"),
            ("Sec-Fetch-Site", "cross-site"),
        ];
        let Ok(Admission::Allowed(cors)) = admit(&app(), "POST", &pairs) else {
            panic!()
        };
        assert_eq!(
            cors.fields().collect::<Vec<_>>(),
            [
                ("access-control-allow-origin", "https://app.example.com"),
                ("vary", "Origin"),
                ("access-control-expose-headers", "Retry-After"),
            ]
        );
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_is_told_what_it_may_send() {
        let pairs = [
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type, x-kafka-key",
            ),
        ];
        let admission = admit(&app(), "OPTIONS", &pairs).unwrap();
        let Admission::Preflight { origin, headers } = admission else {
            panic!("{admission:?}")
        };
        assert_eq!(headers, Some("content-type, x-kafka-key"));
        let cors = Cors::preflight(origin, "POST", headers);
        assert_eq!(
            cors.fields().collect::<Vec<_>>(),
            [
                ("access-control-allow-origin", "https://app.example.com"),
                ("vary", "Origin"),
                ("access-control-allow-methods", "POST"),
                ("access-control-allow-headers", "content-type, x-kafka-key"),
                ("access-control-max-age", "600"),
            ]
        );
        // Asked-for headers that are not a list of tokens are not echoed.
        let pairs = [
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "a\u{7f}b"),
        ];
        assert!(matches!(
            admit(&app(), "OPTIONS", &pairs),
            Ok(Admission::Preflight { headers: None, .. })
        ));
        // Without a method to ask for, OPTIONS is a request like any other.
        let pairs = [("Origin", "https://app.example.com")];
        assert!(matches!(
            admit(&app(), "OPTIONS", &pairs),
            Ok(Admission::Allowed(_))
        ));
        let pairs = [
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ];
        assert!(admit(&app(), "OPTIONS", &pairs).is_err());
    }

    #[test]
    fn only_serialised_origins_can_be_allowed() {
        assert_eq!(
            parse_origin("HTTPS://App.Example.com:8443"),
            Ok("https://app.example.com:8443".to_owned())
        );
        assert!(parse_origin("http://[::1]:8080").is_ok());
        for refused in [
            "*",
            "null",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "ftp://app.example.com",
            "https://",
            "https://user@app.example.com",
            "https://app.example.com\r\nx: y",
        ] {
            assert!(parse_origin(refused).is_err(), "{refused:?}");
        }
    }
}
