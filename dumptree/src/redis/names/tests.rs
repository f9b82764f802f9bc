use super::super::{HASHES, STRINGS};
use super::*;
use elastickv_backup_engine::encode::filename::encode_segment;
use elastickv_backup_engine::encode::keymap::{write_keymap_line, KeymapKind};

fn keymap_line(out: &mut Vec<u8>, raw: &[u8]) {
    write_keymap_line(
        out,
        encode_segment(raw).as_bytes(),
        raw,
        KeymapKind::ShaFallback,
    );
}

fn drain(l: &mut Listing) -> Vec<KeyFile> {
    let mut out = Vec::new();
    while let Some(f) = l.next_file().unwrap() {
        out.push(f);
    }
    out
}

#[test]
fn joins_names_keymap_and_sidecar() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path();
    std::fs::create_dir(db.join("strings")).unwrap();
    std::fs::create_dir(db.join("strings").join("sub.bin")).unwrap();
    let long = vec![b'k'; 300];
    let long_seg = encode_segment(&long);
    let other = encode_segment(&[b'q'; 300]);
    for seg in [
        "a", "b%3Ac", "%FF", "", "b64.AAE", &long_seg, &other, "bad name",
    ] {
        std::fs::write(db.join("strings").join(format!("{seg}.bin")), b"x").unwrap();
    }
    std::os::unix::fs::symlink(db.join("strings/a.bin"), db.join("strings/l.bin")).unwrap();
    std::fs::write(db.join("strings").join("junk.txt"), b"").unwrap();
    // Spec 40 V17: the KEYMAP line is written twice; the last record wins.
    let mut km = Vec::new();
    keymap_line(&mut km, &long);
    km.extend_from_slice(&km.clone());
    std::fs::write(db.join(KEYMAP), &km).unwrap();
    std::fs::write(
        db.join("strings_ttl.jsonl"),
        format!(
            "{{\"key\":\"a\",\"expire_at_ms\":5}}\n{{\"key\":\"{long_seg}\",\"expire_at_ms\":7}}\n\
             {{\"KEY\":\"a\",\"expire_at_ms\":6}}\n{{\"key\":\"zz\",\"expire_at_ms\":1}}\n\
             {{\"key\":\"l\",\"expire_at_ms\":null}}\n"
        ),
    )
    .unwrap();
    let mut l = Listing::open(db, "db", STRINGS, 0).unwrap().unwrap();
    let mut why: Vec<_> = l.ignored.iter().map(|i| i.why).collect();
    why.sort();
    assert_eq!(
        why,
        [
            "not a key file (unexpected suffix)",
            "not a regular file (symlink, directory or special file)"
        ]
    );
    let got: Vec<_> = drain(&mut l)
        .into_iter()
        .map(|f| (f.stem, f.key, f.ttl, f.regular))
        .collect();
    let mut want = vec![
        (String::new(), Ok(Vec::new()), None, true),
        ("%FF".into(), Ok(vec![0xff]), None, true),
        (long_seg.clone(), Ok(long), Some(7), true),
        (other.clone(), Err(NameError::NotInKeymap), None, true),
        ("a".into(), Ok(b"a".to_vec()), Some(6), true),
        ("b%3Ac".into(), Ok(b"b:c".to_vec()), None, true),
        ("b64.AAE".into(), Ok(vec![0, 1]), None, true),
        (
            "bad name".into(),
            Err(NameError::NotEncoded(
                "byte 0x20 is not allowed unescaped".into(),
            )),
            None,
            true,
        ),
        ("l".into(), Ok(b"l".to_vec()), Some(0), false),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    assert!(Listing::open(db, "db", HASHES, 0).unwrap().is_none());

    std::fs::remove_file(db.join(KEYMAP)).unwrap();
    let mut l = Listing::open(db, "db", STRINGS, 0).unwrap().unwrap();
    let f = drain(&mut l)
        .into_iter()
        .find(|f| f.stem == long_seg)
        .unwrap();
    assert_eq!(f.key, Err(NameError::NoKeymap));
    assert_eq!(f.shown, format!("db/strings/{long_seg}.bin"));
}

#[test]
fn malformed_sidecar_and_keymap_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path();
    std::fs::create_dir(db.join("strings")).unwrap();
    std::fs::write(db.join("strings").join("a.bin"), b"x").unwrap();
    std::fs::write(
        db.join("strings_ttl.jsonl"),
        b"{\"key\":\"a\",\"expire_at_ms\":1}\n{\"key\":\"a\",\"expire_at_ms\":-1}\n",
    )
    .unwrap();
    let e = Listing::open(db, "db", STRINGS, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("db/strings_ttl.jsonl: record 2: "), "{e}");
    assert!(check_sidecar(db, "db", STRINGS).is_err());
    assert!(check_sidecar(db, "db", HASHES).is_ok());
    std::fs::write(db.join(KEYMAP), b"{\"encoded\":\"x\"}\n").unwrap();
    let e = check_keymap(db, "db").unwrap_err().to_string();
    assert!(
        e.starts_with("db/KEYMAP.jsonl: line 1: invalid KEYMAP record"),
        "{e}"
    );
    std::fs::remove_file(db.join(KEYMAP)).unwrap();
    assert!(check_keymap(db, "db").is_ok());
}

/// Many keys, a third of them SHA-fallback names, every other one with a TTL line
/// (and an overridden earlier one): with the smallest budget every sort spills, and the
/// join still pairs each file with its own key and TTL.
#[test]
fn many_keys_join_with_spills() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path();
    std::fs::create_dir(db.join("strings")).unwrap();
    let n = 3000u64;
    let key = |i: u64| -> Vec<u8> {
        if i.is_multiple_of(3) {
            format!("{i:06}-{}", "x".repeat(300)).into_bytes()
        } else {
            format!("key:{i}").into_bytes()
        }
    };
    let (mut km, mut side) = (Vec::new(), String::new());
    for i in 0..n {
        let k = key(i);
        let seg = encode_segment(&k);
        std::fs::write(db.join("strings").join(format!("{seg}.bin")), b"").unwrap();
        if i.is_multiple_of(3) {
            keymap_line(&mut km, &k);
        }
        if i.is_multiple_of(2) {
            side.push_str(&format!("{{\"key\":\"{seg}\",\"expire_at_ms\":1}}\n"));
            side.push_str(&format!(
                "{{\"key\":\"{seg}\",\"expire_at_ms\":{}}}\n",
                i + 10
            ));
        }
    }
    std::fs::write(db.join(KEYMAP), &km).unwrap();
    std::fs::write(db.join("strings_ttl.jsonl"), side).unwrap();
    let mut want: Vec<_> = (0..n)
        .map(|i| {
            (
                encode_segment(&key(i)),
                key(i),
                (i.is_multiple_of(2)).then_some(i + 10),
            )
        })
        .collect();
    want.sort();
    for budget in [0, 64 << 20] {
        let mut l = Listing::open(db, "db", STRINGS, budget).unwrap().unwrap();
        if budget == 0 {
            assert!(l.spilled_runs() >= 3, "{}", l.spilled_runs());
        } else {
            assert_eq!(l.spilled_runs(), 0);
        }
        let got: Vec<_> = drain(&mut l)
            .into_iter()
            .map(|f| (f.stem, f.key.unwrap(), f.ttl))
            .collect();
        assert_eq!(got, want);
    }
}
