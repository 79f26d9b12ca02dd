//! Content digests: the one place that hashes bytes into `sha256:<hex>`, and that says what a well-formed digest
//! or hex string is.
//!
//! Registries, the ECR API and the engines all name content by `sha256:` followed by 64 lower-case hex characters.
//! Upper-case hex is refused everywhere: the registry would treat it as another name, and a digest compared as a
//! string would silently differ.

use sha2::{Digest as _, Sha256};

/// Lower-case hex, by hand: sha2 0.11's output type does not implement `LowerHex`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// True when every character is a lower-case hex digit (and there is at least one).
pub fn is_lower_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True when every character is a hex digit of either case (and there is at least one): for identifiers that
/// are not content digests, such as commit ids, which git accepts in either case.
pub fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// The hex part of a well-formed `sha256:<64 lower-case hex>` digest, or `None` for anything else (other
/// algorithms included: only sha256 can be verified while streaming).
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && is_lower_hex(hex)).then_some(hex)
}

/// True for `sha256:` followed by 64 lower-case hex characters.
pub fn is_digest(value: &str) -> bool {
    sha256_hex(value).is_some()
}

/// `sha256:0123456789ab…`, the short form used in progress lines.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) if hex.len() > 12 => format!("{algorithm}:{}…", &hex[..12]),
        _ => digest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_digest_match_sha256sum() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            sha256_digest(b"hello\n"),
            "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
    }

    #[test]
    fn only_well_formed_lower_case_sha256_digests_are_accepted() {
        let good = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert!(is_digest(good));
        for bad in [
            good.to_uppercase(),
            good.replace("5891", "5891".to_uppercase().as_str()).replace('b', "B"),
            "sha512:abcd".to_string(),
            "sha256:../../etc/passwd".to_string(),
            "sha256:".to_string(),
            good[..good.len() - 1].to_string(),
        ] {
            assert!(!is_digest(&bad), "{bad}");
        }
        assert_eq!(short_digest(good), "sha256:5891b5b522d5…");
        assert!(is_lower_hex("00af") && !is_lower_hex("00AF") && !is_lower_hex(""));
        assert!(is_hex("00AF") && !is_hex("00AG") && !is_hex(""));
    }
}
