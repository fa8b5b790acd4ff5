//! The `public_ids` table: the integer id (`pk`) the voice API shows for each
//! user (extension), queue and phone number. The dialplan import hands one to
//! every document that has none (`import.rs`); a document keeps its id for
//! good and no id is ever given twice, so a client may store them.

use sqlx::Row;

use super::{QueryContext, Store, StoreError};

/// What a public id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicKind {
    /// An extension, by its number.
    User,
    /// An ACD queue, by its id.
    Queue,
    /// A phone number, by its E.164 form.
    Number,
}

impl PublicKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PublicKind::User => "user",
            PublicKind::Queue => "queue",
            PublicKind::Number => "number",
        }
    }

    fn parse(s: &str) -> Option<PublicKind> {
        match s {
            "user" => Some(PublicKind::User),
            "queue" => Some(PublicKind::Queue),
            "number" => Some(PublicKind::Number),
            _ => None,
        }
    }
}

/// One document's public id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicId {
    pub kind: PublicKind,
    pub account_id: String,
    pub doc_id: String,
    pub pk: i64,
}

impl Store {
    /// Every public id handed out (of documents removed since, too).
    pub async fn list_public_ids(&self) -> Result<Vec<PublicId>, StoreError> {
        let rows = sqlx::query("SELECT pk, kind, account_id, doc_id FROM public_ids ORDER BY pk")
            .fetch_all(self.pool())
            .await
            .op("list public ids")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = r.try_get("kind").op("decode a public id")?;
            let Some(kind) = PublicKind::parse(&kind) else {
                return Err(StoreError::BadValue {
                    table: "public_ids",
                    column: "kind",
                    value: kind,
                });
            };
            out.push(PublicId {
                kind,
                account_id: r.try_get("account_id").op("decode a public id")?,
                doc_id: r.try_get("doc_id").op("decode a public id")?,
                pk: r.try_get("pk").op("decode a public id")?,
            });
        }
        Ok(out)
    }
}
