//! The message bus: published messages delivered to subscribers.

use std::sync::Weak;

use crate::services::Message;

use crate::manager::{MESSAGE_EXPORT, PluginManager};
use crate::registry::Inner;

/// Deliver published messages to subscribers' `on_message` exports.
pub(crate) async fn dispatch(
    inner: Weak<Inner>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Message>,
) {
    while let Some(message) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let manager = PluginManager { inner };
        let subscribers: Vec<String> = manager
            .entries_named()
            .into_iter()
            .filter(|(_, e)| e.current().manifest.subscribes.contains(&message.topic))
            .map(|(n, _)| n)
            .collect();
        for name in subscribers {
            let manager = manager.clone();
            let message = message.clone();
            tokio::spawn(async move {
                let entry = match manager.inner.entry(&name) {
                    Ok(e) => e,
                    Err(_) => return,
                };
                let version = entry.current();
                let request = (&message.topic, &message.payload);
                if let Err(e) = manager
                    .inner
                    .call_on::<_, ()>(&entry, version, MESSAGE_EXPORT, &request)
                    .await
                {
                    tracing::warn!(plugin = %name, from = %message.from, topic = %message.topic, "message delivery failed: {e}");
                }
            });
        }
    }
}
