//! `switchyard key create|list|revoke`: account API keys from the command
//! line. `create` prints the new key once, as one JSON object on stdout
//! (logs go to stderr), and stores only its hash; a bad account or key id is
//! a message on stderr and exit status 2.

use crate::config::{KeyCommand, KeyType};
use crate::events::now_ms;
use crate::server::open_store;
use crate::store::{ApiKeyKind, NewApiKey};

/// Runs one key command; `Err` carries the message for stderr.
pub async fn run(cmd: KeyCommand) -> Result<(), String> {
    match cmd {
        KeyCommand::Create(a) => {
            let store = open_store(&a.store).await.map_err(|e| e.to_string())?;
            let kind = match a.kind {
                KeyType::Developer => ApiKeyKind::Developer,
                KeyType::User => ApiKeyKind::User,
                KeyType::Merchant => ApiKeyKind::Merchant,
            };
            let new = NewApiKey {
                account_id: &a.account,
                kind,
                label: a.label.as_deref(),
                extension: a.extension.as_deref(),
                scopes: a
                    .scopes
                    .clone()
                    .map(|v| v.into_iter().map(|s| s.trim().to_string()).collect()),
            };
            let made = store
                .create_checked_api_key(&new, now_ms())
                .await
                .map_err(|e| e.to_string());
            // a merchant key is a pair: the key (X-API-KEY) and its secret (X-API-SECRET)
            let paired = match &made {
                Ok(Ok((key, _))) if kind == ApiKeyKind::Merchant => Some(
                    store
                        .attach_key_secret(&key.id)
                        .await
                        .map_err(|e| e.to_string())?,
                ),
                _ => None,
            };
            store.close().await;
            let (key, secret) = made?.map_err(|e| e.to_string())?;
            let mut out = serde_json::json!({
                "key": secret,
                "id": key.id,
                "account_id": key.account_id,
                "type": key.kind,
                "label": key.label,
                "scopes": key.scopes,
            });
            if let Some(paired) = paired {
                out["secret"] = serde_json::Value::from(paired);
            }
            if let Some(ext) = &key.extension {
                out["extension"] = serde_json::Value::from(ext.as_str());
            }
            println!("{out}");
            Ok(())
        }
        KeyCommand::List(a) => {
            let store = open_store(&a.store).await.map_err(|e| e.to_string())?;
            let keys = store
                .list_api_keys(&a.account)
                .await
                .map_err(|e| e.to_string())?;
            store.close().await;
            println!("{}", serde_json::json!({ "keys": keys }));
            Ok(())
        }
        KeyCommand::Revoke(a) => {
            let store = open_store(&a.store).await.map_err(|e| e.to_string())?;
            let done = store
                .revoke_api_key(&a.id, now_ms())
                .await
                .map_err(|e| e.to_string())?;
            store.close().await;
            if done {
                // running switches trust a key they looked up for KEY_TRUST: once
                // this returns, none accepts it any more
                tokio::time::sleep(crate::store::KEY_TRUST).await;
                println!("{}", serde_json::json!({ "revoked": a.id }));
                Ok(())
            } else {
                Err(format!("no live key with id {:?}", a.id))
            }
        }
    }
}
