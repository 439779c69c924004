//! The harness on a real SDK plugin (conformance/guests/services-guest), as
//! a plugin author uses it: every test below runs once per engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anywasm::HostError;
use anywasm_conformance::guests::SERVICES_GUEST;
use anywasm_test::{
    ErrorKind, FIXED_TIME_MS, Limit, TrapCode, expect_denied, expect_guest_error, expect_limit,
    expect_trap, plugin_tests,
};

fn lookup(key: String) -> Result<Option<String>, HostError> {
    Ok((key == "known").then(|| "yes".to_string()))
}

plugin_tests! {
    plugin = SERVICES_GUEST;

    /// `init` gets the manifest's `[config]`, a test's value over it.
    fn init_gets_the_configuration(engine) {
        let mut plugin = engine.plugin().grant_requested().host_fn("lookup", "lookup", lookup).start()?;
        let text: String = plugin.call("greet", "Ada")?;
        assert_eq!(text, "hello, Ada!");
        let mut plugin = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .config("greeting", "hi")
            .start()?;
        let text: String = plugin.call("greet", "Ada")?;
        assert_eq!(text, "hi, Ada!");
        assert_eq!(plugin.logs(), ["hi, Ada!"]);
        Ok(())
    }

    fn a_failing_init_fails_the_start(engine) {
        let start = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .config("greeting", "")
            .start();
        expect_guest_error(start, "no `greeting`");
        Ok(())
    }

    fn each_ungranted_capability_is_denied_by_name(engine) {
        let all = ["log", "clock", "random", "kv", "lookup"];
        for missing in all {
            let mut builder = engine.plugin().host_fn("lookup", "lookup", lookup);
            for granted in all.iter().filter(|c| **c != missing) {
                builder = builder.grant(granted);
            }
            expect_denied(builder.start(), missing);
        }
        Ok(())
    }

    fn a_capability_the_manifest_does_not_ask_for_is_not_granted(engine) {
        let plugin = engine
            .plugin()
            .grant_requested()
            .grant("pubsub")
            .host_fn("lookup", "lookup", lookup)
            .start()?;
        assert!(!plugin.granted().is_granted("pubsub"));
        assert!(plugin.granted().is_granted("kv"));
        Ok(())
    }

    fn a_host_function_nobody_defined_is_unlinkable(engine) {
        let err = engine.plugin().grant_requested().start().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unlinkable, "{err}");
        Ok(())
    }

    fn mocked_host_functions_answer_and_can_fail(engine) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let mut plugin = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", move |key: String| {
                seen.fetch_add(1, Ordering::Relaxed);
                if key == "broken" {
                    return Err(HostError::new("backend down"));
                }
                lookup(key)
            })
            .start()?;
        let known: Option<String> = plugin.call("ask", "known")?;
        let unknown: Option<String> = plugin.call("ask", "other")?;
        assert_eq!((known.as_deref(), unknown), (Some("yes"), None));
        expect_guest_error(plugin.call::<_, Option<String>>("ask", "broken"), "backend down");
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        Ok(())
    }

    fn kv_is_private_to_the_test_and_can_be_seeded(engine) {
        let mut plugin = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .kv("visits", 41u64.to_le_bytes())
            .start()?;
        let n: u64 = plugin.call("count", "visits")?;
        assert_eq!(n, 42);
        assert_eq!(plugin.kv_get("visits"), Some(42u64.to_le_bytes().to_vec()));
        let n: u64 = plugin.call("count", "other")?;
        assert_eq!(n, 1);
        Ok(())
    }

    fn clock_and_random_are_deterministic(engine) {
        let start = |seed| {
            engine
                .plugin()
                .grant_requested()
                .host_fn("lookup", "lookup", lookup)
                .random_seed(seed)
                .start()
        };
        let (mut a, mut b, mut c) = (start(7)?, start(7)?, start(8)?);
        let roll = |p: &mut anywasm_test::TestPlugin| p.call::<_, Vec<u8>>("roll", &16u32);
        let first = roll(&mut a)?;
        assert_eq!(first, roll(&mut b)?);
        assert_ne!(first, roll(&mut c)?);
        assert_ne!(first, roll(&mut a)?, "the sequence moves on");
        let now: u64 = a.call("now", &())?;
        assert_eq!(now, FIXED_TIME_MS);
        let mut later = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .clock_ms(5)
            .start()?;
        let now: u64 = later.call("now", &())?;
        assert_eq!(now, 5);
        Ok(())
    }

    fn fuel_runs_out_per_call_and_the_next_call_runs_afresh(engine) {
        let mut plugin = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .fuel(2_000_000)
            .start()?;
        expect_limit(plugin.call::<_, ()>("spin", &()), Limit::Fuel);
        // A fresh instance, init run again, a full budget again.
        let text: String = plugin.call("greet", "again")?;
        assert_eq!(text, "hello, again!");
        let used = plugin.fuel_used().expect("metered");
        assert!(used > 0 && used < 2_000_000, "{used}");
        Ok(())
    }

    fn timeouts_stop_runaway_calls(engine) {
        let mut plugin = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .timeout(Duration::from_millis(50))
            .start()?;
        expect_limit(plugin.call::<_, ()>("spin", &()), Limit::Timeout);
        Ok(())
    }

    fn memory_is_capped(engine) {
        let cap = 4 << 20;
        let mut plugin = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .memory_bytes(cap)
            .start()?;
        let kept: u32 = plugin.call("hog", &1u32)?;
        assert_eq!(kept, 1);
        // Growing past the cap fails inside the guest, which aborts.
        expect_trap(plugin.call::<_, u32>("hog", &16u32), TrapCode::Unreachable);
        assert!(plugin.memory_bytes()? <= cap);
        // Asking for less memory than the module starts with refuses it.
        let start = engine
            .plugin()
            .grant_requested()
            .host_fn("lookup", "lookup", lookup)
            .initial_memory_bytes(1024)
            .start();
        expect_limit(start, Limit::InitialMemory);
        Ok(())
    }

    fn only_manifest_entry_points_are_callable(engine) {
        let mut plugin = engine.plugin().grant_requested().host_fn("lookup", "lookup", lookup).start()?;
        let err = plugin.call::<_, ()>("anywasm_alloc", &()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ExportNotFound, "{err}");
        Ok(())
    }
}

#[test]
fn a_missing_plugin_file_says_to_build_it() {
    let err = anywasm_test::TestEngine::load(
        anywasm::BackendKind::Wasmi,
        std::path::Path::new("/nonexistent/plugin.wasm"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("anywasm build"), "{err}");
    let err = anywasm_test::TestEngine::load(anywasm::BackendKind::Wasmi, &b"\0asm\x01\0\0\0"[..])
        .unwrap_err();
    assert!(err.to_string().contains("not an anywasm plugin"), "{err}");
}
