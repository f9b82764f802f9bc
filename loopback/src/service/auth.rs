//! Bearer-token rule for `/Admin/` methods (docs/format/50-live-cluster.md §2): metadata key `authorization`,
//! value `Bearer <token>` (case-sensitive scheme, one space), first value only, constant-time
//! comparison, every failure `UNAUTHENTICATED` before any side effect.

use tonic::{Request, Status};

/// Constant-time byte comparison (length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `req` against `token` (`None` = no authentication configured).
pub fn check(token: Option<&str>, req: &Request<()>) -> Result<(), Status> {
    let Some(token) = token else { return Ok(()) };
    let Some(value) = req.metadata().get("authorization") else {
        return Err(Status::unauthenticated("missing authorization header"));
    };
    let Some(presented) = value.as_bytes().strip_prefix(b"Bearer ".as_slice()) else {
        return Err(Status::unauthenticated(
            "authorization is not a bearer token",
        ));
    };
    if !ct_eq(presented, token.as_bytes()) {
        return Err(Status::unauthenticated("invalid admin token"));
    }
    Ok(())
}

/// The interceptor wrapping the Admin service.
#[derive(Clone)]
pub struct AdminAuth {
    /// The configured token.
    pub token: Option<String>,
}

impl tonic::service::Interceptor for AdminAuth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        check(self.token.as_deref(), &req)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn req(v: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(v) = v {
            r.metadata_mut().insert("authorization", v.parse().unwrap());
        }
        r
    }

    #[test]
    fn bearer_rules() {
        let t = Some("s3cret");
        assert!(check(t, &req(Some("Bearer s3cret"))).is_ok());
        assert!(check(None, &req(None)).is_ok());
        for (v, msg) in [
            (None, "missing authorization header"),
            (Some("bearer s3cret"), "authorization is not a bearer token"),
            (Some("Bearer  s3cret"), "invalid admin token"),
            (Some("Bearer wrong"), "invalid admin token"),
        ] {
            let e = check(t, &req(v)).unwrap_err();
            assert_eq!((e.code(), e.message()), (Code::Unauthenticated, msg));
        }
    }
}
