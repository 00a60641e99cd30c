//! Which REST Proxy endpoint a path names, and the method it takes.

use crate::Rejection;

/// A REST Proxy endpoint, borrowing the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestRoute<'a> {
    /// `GET /topics`: the allowed topics that exist.
    ListTopics,
    /// `GET /v3/clusters`: the one cluster.
    ListClusters,
    /// `POST /topics/{topic}` and `POST /topics/{topic}/partitions/{partition}`.
    V2Produce {
        topic: &'a str,
        partition: Option<i32>,
    },
    /// `POST /v3/clusters/{cluster_id}/topics/{topic}/records` (`batch: false`) and
    /// `.../records:batch` (`batch: true`).
    V3Produce {
        cluster_id: &'a str,
        topic: &'a str,
        batch: bool,
    },
}

/// Whether `path` (no query) is under `/topics` or `/v3`, the REST Proxy's: every
/// other path (`POST /` above all) leaves here without splitting or allocating.
pub(crate) fn is_rest_path(path: &str) -> bool {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under("/topics") || under("/v3")
}

/// The REST Proxy route for `path` (no query), `None` when the path is not a REST
/// Proxy path ([`is_rest_path`]).
pub(crate) fn route<'a>(method: &str, path: &'a str) -> Option<Result<RestRoute<'a>, Rejection>> {
    if !is_rest_path(path) {
        return None;
    }
    let rest = &path[1..];
    // The longest route has six segments; a seventh means no route (kept on the stack).
    let mut segments = [""; 7];
    let mut count = 0;
    for segment in rest.split('/').take(segments.len()) {
        segments[count] = segment;
        count += 1;
    }
    let not_found = || Rejection::NotFound {
        path: path.to_owned(),
    };
    let (route, allow) = match segments[..count] {
        ["topics"] => (Ok(RestRoute::ListTopics), "GET"),
        ["topics", topic] if !topic.is_empty() => (
            Ok(RestRoute::V2Produce {
                topic,
                partition: None,
            }),
            "POST",
        ),
        ["topics", topic, "partitions", partition] if !topic.is_empty() => {
            let route = partition
                .parse::<i32>()
                .map(|partition| RestRoute::V2Produce {
                    topic,
                    partition: Some(partition),
                })
                .map_err(|_| not_found());
            (route, "POST")
        }
        ["v3", "clusters"] => (Ok(RestRoute::ListClusters), "GET"),
        ["v3", "clusters", cluster_id, "topics", topic, records]
            if records == "records" || records == "records:batch" =>
        {
            (
                Ok(RestRoute::V3Produce {
                    cluster_id,
                    topic,
                    batch: records == "records:batch",
                }),
                "POST",
            )
        }
        _ => (Err(not_found()), ""),
    };
    Some(match route {
        Ok(_) if method != allow => Err(Rejection::MethodNotAllowed {
            method: method.to_owned(),
            allow,
        }),
        route => route,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_paths_are_the_topics_and_v3_trees_only() {
        for path in ["/topics", "/topics/", "/topics/t", "/v3", "/v3/clusters/c"] {
            assert!(is_rest_path(path), "{path}");
        }
        for path in [
            "/", "", "topics", "/topicsx", "/v30", "/v", "/healthz", "//topics",
        ] {
            assert!(!is_rest_path(path), "{path}");
        }
    }

    #[test]
    fn routes_and_their_methods() {
        assert_eq!(route("GET", "/topics"), Some(Ok(RestRoute::ListTopics)));
        assert_eq!(
            route("POST", "/topics/t/partitions/2"),
            Some(Ok(RestRoute::V2Produce {
                topic: "t",
                partition: Some(2)
            }))
        );
        assert_eq!(
            route("POST", "/v3/clusters/c/topics/t/records:batch"),
            Some(Ok(RestRoute::V3Produce {
                cluster_id: "c",
                topic: "t",
                batch: true
            }))
        );
        assert!(matches!(
            route("PUT", "/topics/t"),
            Some(Err(Rejection::MethodNotAllowed { allow: "POST", .. }))
        ));
        assert!(matches!(
            route("POST", "/v3/nope"),
            Some(Err(Rejection::NotFound { .. }))
        ));
        assert!(matches!(
            route("POST", "/topics/t/partitions/1/x"),
            Some(Err(Rejection::NotFound { .. }))
        ));
        assert!(matches!(
            route("POST", "/topics/t/partitions/x"),
            Some(Err(Rejection::NotFound { .. }))
        ));
        assert_eq!(route("POST", "/"), None);
        assert_eq!(route("POST", "/topicsx"), None);
        assert_eq!(route("GET", "/healthz"), None);
    }
}
