//! The health check: `GET <path>` until it answers 200, within a deadline. Plain HTTP/1.1
//! over a socket (the server is ours, on the runner or behind the proxy's network).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Polls `http://host:port{path}` every 500 ms until a 200 or `timeout`. Returns the last
/// answer or error when it never became healthy. Stops early when `give_up` says so (the
/// server process has exited).
pub fn wait_healthy(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
    give_up: &mut dyn FnMut() -> Option<String>,
) -> Result<Duration, String> {
    wait_for_200(&mut || get_status(host, port, path), path, timeout, give_up)
}

/// Calls `probe` (one `GET path`, its status) until it gives 200 or `timeout` passes: every
/// 100 ms for the first 5 s (a small Odoo answers within a second: no half-second lost
/// waiting), then every 500 ms. The error carries the last answer.
pub fn wait_for_200(
    probe: &mut dyn FnMut() -> Result<u16, String>,
    path: &str,
    timeout: Duration,
    give_up: &mut dyn FnMut() -> Option<String>,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < timeout {
        if crate::cancel::is_cancelled() {
            return Err("cancelled (Ctrl-C / SIGTERM)".into());
        }
        match probe() {
            Ok(200) => return Ok(started.elapsed()),
            Ok(code) => last = format!("HTTP {code}"),
            Err(e) => last = e,
        }
        if let Some(reason) = give_up() {
            return Err(reason);
        }
        let pause = match started.elapsed() < Duration::from_secs(5) {
            true => 100,
            false => 500,
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
    Err(format!(
        "GET {path} did not answer 200 within {} s (last: {last})",
        timeout.as_secs()
    ))
}

/// One `GET`; the status code.
pub fn get_status(host: &str, port: u16, path: &str) -> Result<u16, String> {
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nUser-Agent: odoo-ci\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(format!("no answer: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}

/// A free TCP port on this machine (for a server on the host network).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_of_a_real_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let status = if i == 0 {
                    "503 Service Unavailable"
                } else {
                    "200 OK"
                };
                let _ = s.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                );
            }
        });
        assert_eq!(get_status("127.0.0.1", port, "/web/health"), Ok(503));
        let waited = wait_healthy(
            "127.0.0.1",
            port,
            "/web/health",
            Duration::from_secs(5),
            &mut || None,
        );
        assert!(waited.is_ok(), "{waited:?}");
    }

    #[test]
    fn a_server_that_never_answers_times_out_with_the_reason() {
        let port = free_port().unwrap();
        let err = wait_healthy(
            "127.0.0.1",
            port,
            "/web/health",
            Duration::from_secs(1),
            &mut || None,
        )
        .unwrap_err();
        assert!(
            err.contains("did not answer 200 within 1 s") && err.contains("cannot connect"),
            "{err}"
        );
    }
}
