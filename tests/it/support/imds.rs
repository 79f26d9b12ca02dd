//! An EC2 instance metadata (IMDSv2) stand-in: a thread on 127.0.0.1, reached through
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`. As the real service, it answers nothing without a session token: `PUT
//! /latest/api/token` (with `X-aws-ec2-metadata-token-ttl-seconds`) issues one, and every GET must carry it in
//! `X-aws-ec2-metadata-token` (401 otherwise). It serves an instance profile's credentials under
//! `/latest/meta-data/iam/security-credentials/` and the region under `/latest/meta-data/placement/region` and in
//! `/latest/dynamic/instance-identity/document`. Requests are counted; the thread stops and is joined on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub const ROLE: &str = "ecr-ship-instance-role";
pub const ACCESS_KEY_ID: &str = "ASIAIMDSSTANDIN00001";
const TOKEN: &str = "imds-session-token-for-tests";

pub struct Imds {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicUsize>,
}

impl Imds {
    pub fn start(region: &str) -> Imds {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind imds");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (stop2, counts2, refused2, region) = (stop.clone(), counts.clone(), refused.clone(), region.to_string());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        // A thread per connection: the SDK keeps one alive while it opens another.
                        stream.set_nonblocking(false).ok();
                        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok();
                        let (region, counts, refused) = (region.clone(), counts2.clone(), refused2.clone());
                        std::thread::spawn(move || serve(stream, &region, &counts, &refused));
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Imds { port, stop, thread: Some(thread), counts, refused }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The paths asked, in order (`PUT /latest/api/token` among them).
    pub fn requests(&self) -> Vec<String> {
        self.counts.lock().unwrap().clone()
    }

    /// Requests refused for want of a session token.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: std::net::TcpStream, region: &str, counts: &Mutex<Vec<String>>, refused: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end().to_string();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        counts.lock().unwrap().push(format!("{method} {path}"));
        let (status, text) = if method == "PUT" && path == "/latest/api/token" {
            match header("x-aws-ec2-metadata-token-ttl-seconds") {
                Some(_) => (200, TOKEN.to_string()),
                None => (400, String::new()),
            }
        } else if header("x-aws-ec2-metadata-token").as_deref() != Some(TOKEN) {
            refused.fetch_add(1, Ordering::SeqCst);
            (401, String::new())
        } else {
            match path.as_str() {
                "/latest/meta-data/iam/security-credentials/" => (200, ROLE.to_string()),
                p if p == format!("/latest/meta-data/iam/security-credentials/{ROLE}") => (
                    200,
                    serde_json::json!({
                        "Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC",
                        "AccessKeyId": ACCESS_KEY_ID, "SecretAccessKey": "imds-secret",
                        "Token": "imds-session", "Expiration": "2099-01-01T00:00:00Z",
                    })
                    .to_string(),
                ),
                "/latest/meta-data/placement/region" => (200, region.to_string()),
                "/latest/dynamic/instance-identity/document" => {
                    (200, serde_json::json!({"region": region, "accountId": "123456789012"}).to_string())
                }
                _ => (404, String::new()),
            }
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            _ => "Not Found",
        };
        let mut writer = &stream;
        let answer = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n{text}",
            text.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
