//! Request and response framing: the 4-byte size prefix, request header
//! v0/v1/v2 and response header v0/v1, with ApiVersions' exceptions (its
//! response header is always v0, and a request for a version we do not
//! know still yields enough of a header to answer UNSUPPORTED_VERSION,
//! as KIP-511 asks).

use bytes::{BufMut, Bytes, BytesMut};

use crate::wire::{self, RawTaggedField};
use crate::{ApiKey, DecodeError, EncodeError, Request, Response};

/// The parsed request header plus the undecoded body.
#[derive(Clone, Debug)]
pub struct RequestFrame {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    pub header_tagged_fields: Vec<RawTaggedField>,
    /// The request body, a zero-copy slice of the frame.
    pub body: Bytes,
}

/// Why a frame could not be turned into a request. Carries what was read
/// of the header so the broker can answer or log meaningfully.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("request header is malformed: {0}")]
    BadHeader(DecodeError),
    #[error("unknown api key {api_key} (correlation id {correlation_id})")]
    UnknownApiKey { api_key: i16, correlation_id: i32 },
    #[error("unsupported version {api_version} of {api_key:?} (correlation id {correlation_id})")]
    UnsupportedVersion {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
        client_id: Option<String>,
    },
}

/// Request header version used by `api` at `version`.
pub fn request_header_version(api: ApiKey, version: i16) -> i16 {
    if api == ApiKey::ControlledShutdown && version == 0 {
        0
    } else if api.is_flexible(version) {
        2
    } else {
        1
    }
}

/// Response header version used by `api` at `version`.
pub fn response_header_version(api: ApiKey, version: i16) -> i16 {
    // ApiVersions answers with header v0 so that a client can always read
    // it, whatever version it asked for.
    if api == ApiKey::ApiVersions {
        0
    } else if api.is_response_flexible(version) {
        1
    } else {
        0
    }
}

/// Parses the header of a request frame (the bytes after the size prefix).
pub fn parse_request(mut frame: Bytes) -> Result<RequestFrame, FrameError> {
    let buf = &mut frame;
    let key = wire::get_i16(buf).map_err(FrameError::BadHeader)?;
    let api_version = wire::get_i16(buf).map_err(FrameError::BadHeader)?;
    let correlation_id = wire::get_i32(buf).map_err(FrameError::BadHeader)?;
    let Some(api_key) = ApiKey::from_i16(key) else {
        return Err(FrameError::UnknownApiKey {
            api_key: key,
            correlation_id,
        });
    };
    let (lo, hi) = api_key.versions();
    // A version newer than we know is read with the header of our newest.
    let header_version = request_header_version(api_key, api_version.clamp(lo, hi));
    let client_id = if header_version >= 1 {
        wire::get_nullable_string(buf, false).map_err(FrameError::BadHeader)?
    } else {
        None
    };
    let mut header_tagged_fields = Vec::new();
    if header_version >= 2 {
        wire::get_tagged_fields(buf, &mut header_tagged_fields, |_, _| Ok(false))
            .map_err(FrameError::BadHeader)?;
    }
    if api_version < lo || api_version > hi {
        return Err(FrameError::UnsupportedVersion {
            api_key,
            api_version,
            correlation_id,
            client_id,
        });
    }
    Ok(RequestFrame {
        api_key,
        api_version,
        correlation_id,
        client_id,
        header_tagged_fields,
        body: frame,
    })
}

impl RequestFrame {
    /// Decodes the body into the typed request.
    pub fn decode(&self) -> Result<Request, DecodeError> {
        let mut body = self.body.clone();
        Request::decode(self.api_key as i16, self.api_version, &mut body)
    }
}

/// Appends a complete response frame (size prefix, header, body) to `out`.
pub fn encode_response(
    out: &mut BytesMut,
    correlation_id: i32,
    api_key: ApiKey,
    api_version: i16,
    response: &Response,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_i32(0);
    out.put_i32(correlation_id);
    if response_header_version(api_key, api_version) >= 1 {
        wire::put_uvarint(out, 0);
    }
    response.encode(out, api_version)?;
    patch_size(out, start)
}

/// Like [`encode_response`], with `records` fields written through `ext`
/// (which may leave their bytes to be sent separately).
pub fn encode_response_with(
    out: &mut BytesMut,
    correlation_id: i32,
    api_key: ApiKey,
    api_version: i16,
    response: &Response,
    ext: &mut dyn wire::RecordsWriter,
    external_len: usize,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_i32(0);
    out.put_i32(correlation_id);
    if response_header_version(api_key, api_version) >= 1 {
        wire::put_uvarint(out, 0);
    }
    response.encode_with(out, api_version, ext)?;
    let size = out.len() - start - 4 + external_len;
    let size32 = i32::try_from(size).map_err(|_| EncodeError::TooLong(size))?;
    out[start..start + 4].copy_from_slice(&size32.to_be_bytes());
    Ok(())
}

/// Appends a complete request frame; used by fjord's own clients and tests.
pub fn encode_request(
    out: &mut BytesMut,
    correlation_id: i32,
    client_id: Option<&str>,
    api_version: i16,
    request: &Request,
) -> Result<(), EncodeError> {
    let api_key = request.api_key();
    let start = out.len();
    out.put_i32(0);
    out.put_i16(api_key as i16);
    out.put_i16(api_version);
    out.put_i32(correlation_id);
    let hv = request_header_version(api_key, api_version);
    if hv >= 1 {
        wire::put_nullable_string(out, client_id, false)?;
    }
    if hv >= 2 {
        wire::put_uvarint(out, 0);
    }
    request.encode(out, api_version)?;
    patch_size(out, start)
}

/// Splits a response frame body (after the size prefix) into correlation
/// id and typed response.
pub fn parse_response(
    mut frame: Bytes,
    api_key: ApiKey,
    api_version: i16,
) -> Result<(i32, Response), DecodeError> {
    let correlation_id = wire::get_i32(&mut frame)?;
    if response_header_version(api_key, api_version) >= 1 {
        let mut unknown = Vec::new();
        wire::get_tagged_fields(&mut frame, &mut unknown, |_, _| Ok(false))?;
    }
    let resp = Response::decode(api_key as i16, api_version, &mut frame)?;
    Ok((correlation_id, resp))
}

fn patch_size(out: &mut BytesMut, start: usize) -> Result<(), EncodeError> {
    let size = out.len() - start - 4;
    let size32 = i32::try_from(size).map_err(|_| EncodeError::TooLong(size))?;
    out[start..start + 4].copy_from_slice(&size32.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{ApiVersionsRequest, MetadataRequest};

    #[test]
    fn request_round_trip_through_frames() {
        let req = Request::Metadata(MetadataRequest {
            topics: None,
            ..Default::default()
        });
        for v in [1i16, 9, 12] {
            let mut out = BytesMut::new();
            encode_request(&mut out, 7, Some("cli"), v, &req).unwrap();
            let frame = out.freeze().slice(4..);
            let f = parse_request(frame).unwrap();
            assert_eq!(f.correlation_id, 7);
            assert_eq!(f.client_id.as_deref(), Some("cli"));
            assert_eq!(f.decode().unwrap(), req);
        }
    }

    #[test]
    fn too_new_api_versions_still_yields_header() {
        let req = Request::ApiVersions(ApiVersionsRequest::default());
        let mut out = BytesMut::new();
        encode_request(&mut out, 3, Some("x"), 4, &req).unwrap();
        // Pretend the client asked for v99.
        out[6..8].copy_from_slice(&99i16.to_be_bytes());
        match parse_request(out.freeze().slice(4..)) {
            Err(FrameError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                api_version: 99,
                correlation_id: 3,
                client_id,
            }) => assert_eq!(client_id.as_deref(), Some("x")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_key_and_short_header() {
        let f = Bytes::from_static(&[0x7f, 0x00, 0, 0, 0, 0, 0, 5]);
        assert!(matches!(
            parse_request(f),
            Err(FrameError::UnknownApiKey {
                api_key: 0x7f00,
                correlation_id: 5
            })
        ));
        assert!(matches!(
            parse_request(Bytes::from_static(&[0, 1])),
            Err(FrameError::BadHeader(_))
        ));
    }
}
