//! What `load` is aimed at, written the way people type it: a URL (`http://127.0.0.1:8080/path`, as for wrk, oha
//! and hey) or `HOST:PORT` for the raw protocols (echo, daytime, udp-echo), which have no URL scheme.
//!
//! Why by hand and not a URL crate: only `http://authority/path?query` is meaningful here, and the authority is
//! kept as typed, since it is also the request's `Host` header.

use crate::protocol::Proto;

/// A target as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `HOST:PORT` to connect to (a URL without a port: port 80).
    pub address: String,
    /// What the `Host` header says: the URL's authority as typed, or the `HOST:PORT` given.
    pub host_header: String,
    /// `Some(Http)` for a URL; `None` for `HOST:PORT`, whose protocol is `--proto`'s.
    pub proto: Option<Proto>,
    /// The URL's path and query (`/` when it has none); `None` for `HOST:PORT`.
    pub path: Option<String>,
}

impl Target {
    /// Reads `http://AUTHORITY[/PATH][?QUERY]` or `HOST:PORT`; the reason is for people.
    pub fn parse(text: &str) -> Result<Target, String> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Target {
                address: text.to_string(),
                host_header: text.to_string(),
                proto: None,
                path: None,
            });
        };
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(format!(
                "'{text}': only http:// URLs can be loaded (no TLS); raw protocols take HOST:PORT"
            ));
        }
        // The fragment never goes to the server.
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let path = match path.strip_prefix('?') {
            Some(query) => format!("/?{query}"),
            None => path.to_string(),
        };
        if authority.is_empty() {
            return Err(format!("'{text}' has no host"));
        }
        if authority.contains('@') {
            return Err(format!("'{text}': user names in URLs are not supported"));
        }
        // A port is what follows the last colon, unless that colon is inside an IPv6 literal's brackets.
        let has_port = authority
            .rfind(':')
            .is_some_and(|colon| !authority[colon..].contains(']'));
        let address = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            address,
            host_header: authority.to_string(),
            proto: Some(Proto::Http),
            path: Some(path),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_sets_http_the_address_the_host_and_the_path() {
        let t = Target::parse("http://127.0.0.1:8080/a/b?c=d#frag").unwrap();
        assert_eq!(t.address, "127.0.0.1:8080");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.proto, Some(Proto::Http));
        assert_eq!(t.path.as_deref(), Some("/a/b?c=d"));

        let t = Target::parse("HTTP://localhost").unwrap();
        assert_eq!(
            (t.address.as_str(), t.host_header.as_str()),
            ("localhost:80", "localhost")
        );
        assert_eq!(t.path.as_deref(), Some("/"));
        assert_eq!(
            Target::parse("http://h:1?q").unwrap().path.as_deref(),
            Some("/?q")
        );

        let t = Target::parse("http://[::1]/x").unwrap();
        assert_eq!(t.address, "[::1]:80");
        assert_eq!(
            Target::parse("http://[::1]:81").unwrap().address,
            "[::1]:81"
        );
    }

    #[test]
    fn host_port_is_left_to_proto_and_other_urls_are_refused() {
        let t = Target::parse("127.0.0.1:5000").unwrap();
        assert_eq!((t.proto, t.path), (None, None));
        assert_eq!(t.address, "127.0.0.1:5000");
        for bad in [
            "https://x",
            "http://",
            "http:///path",
            "http://u@h:1/",
            "ftp://h",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
