//! `odoo-ci previews wake`: the one long-running odoo-ci, beside Caddy. A stopped preview
//! answers nothing, so Caddy's `reverse_proxy` fails (502) and its error route for that
//! preview's host (added with the preview, `previews.proxy.wake`) sends the request here:
//! the preview starts, and the person who opened it gets a page that reloads until the
//! preview serves. Each request reads the previews afresh (a new connection to
//! PostgreSQL: the waker lives for weeks); it only ever starts this project's.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::previews_at::Previews;
use crate::exit::{self, BadInput};
use crate::stages::previews::{self, Woken};

/// Listens on `listen` (else `previews.proxy.wake`) until Ctrl-C or SIGTERM.
pub fn serve(previews: Previews, listen: Option<&str>) -> anyhow::Result<u8> {
    let proxy = previews.config.file.previews.proxy.as_ref();
    let Some(address) = listen.or(proxy.and_then(|p| p.wake.as_deref())) else {
        return Err(BadInput::new("`previews wake` has no address to listen on")
            .hint("set `previews.proxy.wake` (e.g. 127.0.0.1:2020) in .odoo-ci.yml, where Caddy sends stopped previews' requests, or pass --listen")
            .into());
    };
    let listener = TcpListener::bind(address).map_err(|e| {
        BadInput::new(format!("cannot listen on {address}: {e}"))
            .hint("pick a free address, the one `previews.proxy.wake` names")
    })?;
    listener.set_nonblocking(true)?;
    crate::cancel::install();
    println!("waking the previews of {} on {address}", previews.scope);
    let previews = Arc::new(previews);
    while !crate::cancel::is_cancelled() {
        match listener.accept() {
            Ok((stream, _)) => {
                let previews = Arc::clone(&previews);
                std::thread::spawn(move || answer(&previews, stream));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => tracing::warn!("accepting a request: {e}"),
        }
    }
    Ok(exit::OK)
}

/// Reads one request, wakes what its host names, answers, closes.
fn answer(previews: &Previews, mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let reply = match request_host(&mut stream) {
        Some(host) => match woken(previews, &host) {
            Ok(woken) => page_of(&woken),
            Err(e) => {
                tracing::warn!("waking the preview at {host}: {e:#}");
                Page::new(502, "The preview could not be started", &format!("{e:#}"))
            }
        },
        None => Page::new(400, "Bad request", "no Host header"),
    };
    let _ = stream.write_all(reply.to_http().as_bytes());
}

fn woken(previews: &Previews, host: &str) -> anyhow::Result<Woken> {
    let mut admin = previews.server.connect("postgres")?;
    let mut place = previews.place(&mut admin);
    let max_running = previews.config.file.previews.max_running;
    previews::wake(&mut place, host, crate::clock::now_secs(), max_running)
}

/// The `Host` of a request (without its port), read from its head.
fn request_host(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    host_header(&String::from_utf8_lossy(&head))
}

fn host_header(head: &str) -> Option<String> {
    head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("host")
            .then(|| crate::proxy::host_of(value.trim()).map(str::to_string))
            .flatten()
    })
}

/// An HTML answer.
struct Page {
    status: u16,
    title: String,
    text: String,
    reload: bool,
}

impl Page {
    fn new(status: u16, title: &str, text: &str) -> Page {
        Page {
            status,
            title: title.to_string(),
            text: text.to_string(),
            reload: false,
        }
    }

    fn to_http(&self) -> String {
        let reason = match self.status {
            503 => "Service Unavailable",
            404 => "Not Found",
            410 => "Gone",
            400 => "Bad Request",
            _ => "Bad Gateway",
        };
        let refresh = if self.reload {
            "<meta http-equiv=\"refresh\" content=\"3\">"
        } else {
            ""
        };
        let body = format!(
            "<!doctype html><meta charset=\"utf-8\">{refresh}<title>{title}</title><h1>{title}</h1><p>{text}</p>\n",
            title = escape(&self.title),
            text = escape(&self.text)
        );
        let retry = if self.reload {
            "Retry-After: 3\r\n"
        } else {
            ""
        };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n{retry}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.status,
            body.len()
        )
    }
}

fn page_of(woken: &Woken) -> Page {
    match woken {
        Woken::Starting { branch } => Page {
            reload: true,
            ..Page::new(
                503,
                &format!("Starting the preview of {branch}"),
                "It was stopped while nobody used it. This page reloads by itself until it serves (a few seconds).",
            )
        },
        Woken::NotServed { branch, why } => Page::new(
            410,
            &format!("The preview of {branch} is not served"),
            why,
        ),
        Woken::Unknown => Page::new(
            404,
            "No preview here",
            "No preview of this project has this address.",
        ),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_a_request_is_its_header_without_the_port() {
        let head = "GET /odoo HTTP/1.1\r\nUser-Agent: x\r\nHOST: Feat-X.previews.test:8080\r\n\r\n";
        assert_eq!(host_header(head).as_deref(), Some("Feat-X.previews.test"));
        assert_eq!(host_header("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), None);
    }

    #[test]
    fn a_starting_preview_s_page_reloads_and_says_whose_it_is() {
        let page = page_of(&Woken::Starting {
            branch: "feat/<x>".into(),
        })
        .to_http();
        assert!(
            page.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{page}"
        );
        assert!(page.contains("Retry-After: 3\r\n"));
        assert!(page.contains("http-equiv=\"refresh\""));
        assert!(page.contains("feat/&lt;x&gt;"), "escaped: {page}");
        let (head, body) = page.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        let gone = page_of(&Woken::Unknown).to_http();
        assert!(gone.starts_with("HTTP/1.1 404 ") && !gone.contains("refresh"));
    }
}
