//! Server-Sent Events in the browser: subscribes to one event of a stream for as long as the
//! component lives. Does nothing on the server (the page is rendered with the current state).

use leptos::prelude::*;

/// Calls `on_event` with each `event`'s data from `url` (same origin, session cookie included).
pub fn subscribe(url: &'static str, event: &'static str, on_event: impl Fn(String) + 'static) {
    let on_event = send_wrapper::SendWrapper::new(std::rc::Rc::new(on_event));
    Effect::new(move |_| {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let Ok(source) = web_sys::EventSource::new(url) else {
            return;
        };
        let handler = on_event.clone();
        let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(data) = ev.data().as_string() {
                handler(data);
            }
        });
        let _ = source.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        // The listener lives as long as the EventSource, which is closed on cleanup.
        listener.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    });
}
