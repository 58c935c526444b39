//! Feedback from hall users, with an optional picture.
//!
//! A picture must be a whole PNG, JPEG, GIF or WebP file (checked by its bytes, never by the
//! name or type the client claims) within the size limit. It is stored under the upload folder
//! with a name of our own and the extension of its real type, written to a temporary name and
//! renamed into place, and removed again if the feedback cannot be recorded: a refused upload
//! leaves nothing behind.

use std::path::PathBuf;

use super::{RetailData, RetailUser, store};
use crate::domain::identity::{long_text, text_field};
use crate::domain::{Entity, Error, Result, Timestamp, ids};
use crate::store::retail::FeedbackRow;

/// The picture types the hall accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl PictureType {
    /// The type of a whole image file, judged by its structure; `None` for anything else.
    pub fn sniff(bytes: &[u8]) -> Option<PictureType> {
        let n = bytes.len();
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n")
            && n >= 45
            && &bytes[12..16] == b"IHDR"
            && &bytes[n - 8..n - 4] == b"IEND"
        {
            return Some(PictureType::Png);
        }
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && n >= 8 && bytes.ends_with(&[0xFF, 0xD9]) {
            return Some(PictureType::Jpeg);
        }
        if (bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"))
            && n >= 14
            && bytes.ends_with(b";")
        {
            return Some(PictureType::Gif);
        }
        if n >= 16 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            let declared = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
            if declared + 8 == n {
                return Some(PictureType::Webp);
            }
        }
        None
    }

    pub fn mime(self) -> &'static str {
        match self {
            PictureType::Png => "image/png",
            PictureType::Jpeg => "image/jpeg",
            PictureType::Gif => "image/gif",
            PictureType::Webp => "image/webp",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            PictureType::Png => "png",
            PictureType::Jpeg => "jpg",
            PictureType::Gif => "gif",
            PictureType::Webp => "webp",
        }
    }

    fn from_mime(mime: &str) -> Option<PictureType> {
        [
            PictureType::Png,
            PictureType::Jpeg,
            PictureType::Gif,
            PictureType::Webp,
        ]
        .into_iter()
        .find(|t| t.mime() == mime)
    }
}

/// A feedback entry as operators read it.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub id: String,
    pub user_id: String,
    pub phone: String,
    pub content: String,
    pub contact: Option<String>,
    pub picture_type: Option<PictureType>,
    pub created_at: Timestamp,
}

impl From<FeedbackRow> for Feedback {
    fn from(r: FeedbackRow) -> Self {
        Feedback {
            id: r.id,
            user_id: r.user_id,
            phone: r.phone,
            content: r.content,
            contact: r.contact,
            picture_type: r.picture_type.as_deref().and_then(PictureType::from_mime),
            created_at: Timestamp::from_millis(r.created_at),
        }
    }
}

/// Why a picture was refused (the surface maps each to its own status).
#[derive(Debug, thiserror::Error)]
pub enum PictureRefusal {
    #[error("图片不能超过 {0} 字节")]
    TooLarge(usize),
    #[error("图片须为完整的 PNG、JPEG、GIF 或 WebP 文件")]
    NotAnImage,
}

/// A stored picture that is removed again unless its feedback row was recorded: also when
/// the request is dropped half-way (the client went away), so nothing is left behind.
struct PendingFile(Option<PathBuf>);

impl PendingFile {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl RetailData {
    fn feedback_folder(&self) -> PathBuf {
        self.settings.retail_upload_dir.join("feedback")
    }

    /// Largest picture a feedback entry may carry (bytes).
    pub fn max_picture_bytes(&self) -> usize {
        self.settings.retail_max_upload_bytes
    }

    /// Records a user's feedback with an optional picture; returns its id.
    pub async fn record_feedback(
        &self,
        user: &RetailUser,
        content: &str,
        contact: Option<&str>,
        picture: Option<&[u8]>,
    ) -> Result<std::result::Result<String, PictureRefusal>> {
        let content = long_text(content, "content", "建议内容", 2000)?;
        let contact = match contact.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(text_field(c, "contact", "联系方式", 100)?),
            None => None,
        };
        let id = ids::random_hex_id();
        let mut stored: Option<(PendingFile, PathBuf, PictureType)> = None;
        if let Some(bytes) = picture {
            let max = self.settings.retail_max_upload_bytes;
            if bytes.len() > max {
                return Ok(Err(PictureRefusal::TooLarge(max)));
            }
            let Some(kind) = PictureType::sniff(bytes) else {
                return Ok(Err(PictureRefusal::NotAnImage));
            };
            let folder = self.feedback_folder();
            tokio::fs::create_dir_all(&folder)
                .await
                .map_err(Error::internal)?;
            let path = folder.join(format!("{id}.{}", kind.extension()));
            let part = folder.join(format!("{id}.part"));
            // Armed before the first byte is written: a dropped request removes both names.
            let _part_guard = PendingFile(Some(part.clone()));
            let guard = PendingFile(Some(path.clone()));
            tokio::fs::write(&part, bytes)
                .await
                .map_err(Error::internal)?;
            tokio::fs::rename(&part, &path)
                .await
                .map_err(Error::internal)?;
            stored = Some((guard, path, kind));
        }
        let row = FeedbackRow {
            id: id.clone(),
            user_id: user.id.clone(),
            phone: user.phone.clone(),
            content,
            contact,
            picture: stored.as_ref().and_then(|(_, p, _)| {
                p.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            }),
            picture_type: stored.as_ref().map(|(_, _, k)| k.mime().to_owned()),
            created_at: self.clock.now().millis(),
        };
        store::insert_feedback(self.store.pool(), &row).await?;
        if let Some((guard, _, _)) = stored {
            guard.keep();
        }
        Ok(Ok(id))
    }

    /// Every feedback entry, newest first (operators).
    pub async fn all_feedback(&self) -> Result<Vec<Feedback>> {
        Ok(store::feedback(self.store.pool())
            .await?
            .into_iter()
            .map(Feedback::from)
            .collect())
    }

    /// A feedback entry's picture: its bytes and type (operators).
    pub async fn feedback_picture(&self, id: &str) -> Result<(Vec<u8>, PictureType)> {
        let row = store::feedback_one(self.store.pool(), id)
            .await?
            .ok_or(Error::NotFound(Entity::Feedback))?;
        let (Some(name), Some(kind)) = (
            row.picture,
            row.picture_type.as_deref().and_then(PictureType::from_mime),
        ) else {
            return Err(Error::NotFound(Entity::Other));
        };
        // Names are ours (`<hex id>.<ext>`); refuse anything else rather than follow a path.
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
            return Err(Error::NotFound(Entity::Other));
        }
        let bytes = tokio::fs::read(self.feedback_folder().join(name))
            .await
            .map_err(|_| Error::NotFound(Entity::Other))?;
        Ok((bytes, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::PictureType;

    #[test]
    fn pictures_are_judged_by_their_bytes() {
        let png = crate::surfaces::captcha::png("123");
        assert_eq!(PictureType::sniff(&png), Some(PictureType::Png));
        assert_eq!(PictureType::sniff(&png[..png.len() - 4]), None);
        assert_eq!(PictureType::sniff(b"<?php echo 1; ?>"), None);
        assert_eq!(
            PictureType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9]),
            Some(PictureType::Jpeg)
        );
        assert_eq!(
            PictureType::sniff(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
            Some(PictureType::Gif)
        );
    }
}
