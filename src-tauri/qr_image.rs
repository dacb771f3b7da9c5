//! Enrollment from a QR code image: the page reads the file the user chose
//! (no file-system permission is granted) and sends its bytes raw; the core
//! decodes them.

use tauri::ipc::{InvokeBody, Request};

use crate::IpcError;

/// Largest image accepted (the core checks it again).
const MAX_IMAGE_BYTES: usize = countersign_approver::qr_image::MAX_IMAGE_BYTES;

/// Decodes off the async workers: a large photo takes a while.
pub async fn decode(image: Vec<u8>) -> Result<String, IpcError> {
    tauri::async_runtime::spawn_blocking(move || countersign_approver::qr_image::decode_enrollment_link(&image))
        .await
        .map_err(|e| IpcError::new("internal", format!("the QR decoder stopped: {e}")))?
        .map_err(IpcError::from)
}

/// The raw bytes of an invoke (a file the page read), bounded.
pub fn raw_body<'a>(request: &'a Request<'_>) -> Result<&'a [u8], IpcError> {
    match request.body() {
        InvokeBody::Raw(bytes) if bytes.len() <= MAX_IMAGE_BYTES => Ok(bytes),
        InvokeBody::Raw(_) => Err(IpcError::new("invalid_qr_image", "the image is larger than 10 MiB")),
        InvokeBody::Json(_) => Err(IpcError::new("invalid", "send the image's bytes as the request body")),
    }
}
