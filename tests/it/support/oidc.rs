//! A stand-in for the GitHub Actions OIDC token service: a real HTTP server on 127.0.0.1 that checks the bearer
//! request token and the `audience` query parameter and answers `{"value": "<jwt>"}` like the runner does.
//!
//! The JWT carries GitHub's `iss`, the requested `aud` and a `sub` claim but a dummy signature: moto does not
//! verify web identity tokens while auth is off. Requests are counted so tests can check the token was fetched
//! exactly once; the server thread stops and is joined when the handle drops.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

/// The request token the server accepts (what the runner puts in `ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
pub const REQUEST_TOKEN: &str = "gha-request-token-for-tests";
/// The `sub` claim of every JWT handed out.
pub const SUBJECT: &str = "repo:octo-org/octo-repo:ref:refs/heads/main";

pub struct OidcServer {
    pub port: u16,
    expected_audience: String,
    requests: Arc<AtomicUsize>,
    audiences: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl OidcServer {
    /// Starts the server; requests with another audience get HTTP 400, a wrong bearer token HTTP 401.
    pub fn start(expected_audience: &str) -> OidcServer {
        OidcServer::start_flaky(expected_audience, 0)
    }

    /// Like [`OidcServer::start`], but the first `failures` requests get HTTP 503 (to exercise retries).
    pub fn start_flaky(expected_audience: &str, failures: usize) -> OidcServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let audiences = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, audiences, stop) = (requests.clone(), audiences.clone(), stop.clone());
            let expected = expected_audience.to_string();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let seen = requests.fetch_add(1, Ordering::SeqCst);
                        serve(stream, &expected, &audiences, seen < failures);
                    }
                }
            })
        };
        OidcServer {
            port,
            expected_audience: expected_audience.to_string(),
            requests,
            audiences,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL the runner would put in `ACTIONS_ID_TOKEN_REQUEST_URL` (it already carries a query string).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/_apis/distributedtask/idtoken?api-version=2.0", self.port)
    }

    /// The variables a GitHub-hosted job with `permissions: id-token: write` has.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("ACTIONS_ID_TOKEN_REQUEST_URL".into(), self.url()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), REQUEST_TOKEN.into()),
        ]
    }

    /// How many connections were served.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The `audience` parameter of every request, in order (empty string when absent).
    pub fn audiences(&self) -> Vec<String> {
        self.audiences.lock().expect("audiences lock").clone()
    }

    pub fn expected_audience(&self) -> &str {
        &self.expected_audience
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, expected_audience: &str, audiences: &Mutex<Vec<String>>, fail: bool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(value.trim().to_string());
                }
            }
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or_default();
    let audience = target
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("audience="))
        .unwrap_or_default()
        .to_string();
    audiences.lock().expect("audiences lock").push(audience.clone());

    let (status, body) = if fail {
        ("503 Service Unavailable", r#"{"message":"try again"}"#.to_string())
    } else if !request_line.starts_with("GET ") {
        ("405 Method Not Allowed", r#"{"message":"GET only"}"#.to_string())
    } else if authorization.as_deref() != Some(&format!("Bearer {REQUEST_TOKEN}")) {
        ("401 Unauthorized", r#"{"message":"bad request token"}"#.to_string())
    } else if audience != expected_audience {
        ("400 Bad Request", format!(r#"{{"message":"unexpected audience '{audience}'"}}"#))
    } else {
        ("200 OK", serde_json::json!({ "value": jwt(&audience) }).to_string())
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// A JWT shaped like GitHub's, with a dummy signature.
pub fn jwt(audience: &str) -> String {
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let header = b64(serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "test"}));
    let claims = b64(serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": audience,
        "sub": SUBJECT,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }));
    format!("{header}.{claims}.c2lnbmF0dXJl")
}
