//! Files compiled into the binary and served as they are: the API reference and the pages.
//! Each set of files is named by one ETag (a hash of all their bytes), so browsers revalidate
//! and get a 304 until a build changes any of them, and each set has its own
//! Content-Security-Policy.

use actix_web::{HttpRequest, HttpResponse, http::header};

/// Files served together, under one ETag and one Content-Security-Policy.
pub struct Bundle {
    etag: String,
    policy: &'static str,
}

impl Bundle {
    /// The bundle of `files`, its ETag starting with `name`.
    pub fn new(name: &str, policy: &'static str, files: &[&str]) -> Self {
        // FNV-1a: a stable hash (unlike std's hashers), and enough to tell builds apart.
        let hash = files
            .iter()
            .flat_map(|file| file.bytes())
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        Self { etag: format!("\"{name}-{hash:016x}\""), policy }
    }

    /// The ETag of every file of the bundle.
    #[cfg(test)]
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// One of the bundle's files, or 304 when the browser has this build's copy.
    pub fn serve(
        &self,
        request: &HttpRequest,
        content_type: &'static str,
        body: &'static str,
    ) -> HttpResponse {
        let fresh = request
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| tag.trim() == self.etag || tag.trim() == "*");
        let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
        response
            .insert_header((header::ETAG, self.etag.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::CONTENT_SECURITY_POLICY, self.policy));
        if fresh { response.finish() } else { response.content_type(content_type).body(body) }
    }
}
