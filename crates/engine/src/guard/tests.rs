use super::*;

fn kinds(f: &[Failure]) -> Vec<&'static str> {
    f.iter().map(Failure::kind).collect()
}

const SOURCE: &str = "وزیر امور خارجه روز دوشنبه وارد مسکو شد.";

#[test]
fn a_good_translation_passes() {
    let f = diagnose(
        SOURCE,
        "The foreign minister arrived in Moscow on Monday.",
        StopReason::Eos,
        &[],
    );
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn persian_script_in_the_output_is_caught() {
    let f = diagnose(
        SOURCE,
        "The minister arrived in مسکو on Monday.",
        StopReason::Eos,
        &[],
    );
    assert_eq!(kinds(&f), ["wrong_script"]);
}

#[test]
fn a_copied_source_is_caught() {
    let f = diagnose(SOURCE, SOURCE, StopReason::Eos, &[]);
    assert!(kinds(&f).contains(&"copied_source"), "{f:?}");
}

#[test]
fn runaway_repetition_is_caught() {
    let f = diagnose(
        SOURCE,
        "The minister arrived, the minister arrived, the minister arrived, the minister arrived.",
        StopReason::Eos,
        &[],
    );
    assert!(kinds(&f).contains(&"repetition"), "{f:?}");
    let f = diagnose(SOURCE, "Moscow Moscow Moscow Moscow", StopReason::Eos, &[]);
    assert!(kinds(&f).contains(&"repetition"), "{f:?}");
    // Three repeats of one word is still language ("very, very, very").
    assert!(repetition("it was very very very cold").is_none());
}

#[test]
fn lengths_far_from_the_source_are_caught() {
    let f = diagnose(SOURCE, "Yes.", StopReason::Eos, &[]);
    assert_eq!(kinds(&f), ["too_short"]);
    let long = "The foreign minister of the country arrived in the Russian capital. ".repeat(3);
    let f = diagnose(SOURCE, &long, StopReason::Eos, &[]);
    assert!(kinds(&f).contains(&"too_long"), "{f:?}");
}

#[test]
fn cut_output_is_caught() {
    let f = diagnose(
        SOURCE,
        "The foreign minister arrived in Moscow",
        StopReason::LengthCap,
        &[],
    );
    assert_eq!(kinds(&f), ["cut"]);
}

#[test]
fn missing_numbers_and_latin_names_are_caught() {
    let source = "۵۰ نفر در حمله به دفتر Reuters در ۲۰۲۴ کشته شدند.";
    let f = diagnose(
        source,
        "Fifty people were killed in an attack.",
        StopReason::Eos,
        &[],
    );
    assert_eq!(
        f,
        [
            Failure::MissingNumber("50".into()),
            Failure::MissingNumber("2024".into()),
            Failure::MissingName("Reuters".into()),
        ]
    );
    let ok = diagnose(
        source,
        "50 people were killed in an attack on the Reuters office in 2024.",
        StopReason::Eos,
        &[],
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn glossary_terms_are_found_normalized_and_checked() {
    let g = Glossary::parse(
        "# terms\nاسپین بولدک\tSpin Boldak\r\n\nذبیح‌الله مجاهد\tZabihullah Mujahid\n",
    )
    .unwrap();
    assert_eq!(g.entries().len(), 2);
    // Arabic yeh and a missing ZWNJ in the text still match.
    let sentence = "ذبیحالله مجاهد گفت نیروها در اسپين بولدک هستند.";
    let terms = g.find(sentence);
    assert_eq!(terms.len(), 2, "{terms:?}");
    let f = diagnose(
        sentence,
        "Mujahid said forces are in Spin Buldak.",
        StopReason::Eos,
        &terms,
    );
    assert_eq!(kinds(&f), ["missing_term", "missing_term"]);
    let f = diagnose(
        sentence,
        "Zabihullah Mujahid said the forces are in Spin Boldak.",
        StopReason::Eos,
        &terms,
    );
    assert!(f.is_empty(), "{f:?}");
    let note = glossary_note(&terms).unwrap();
    assert!(note.contains("اسپین بولدک = Spin Boldak"), "{note}");
}

#[test]
fn bad_glossary_lines_are_reported_by_number() {
    assert_eq!(Glossary::parse("a\tb\nno tab here\n"), Err(2));
    assert_eq!(Glossary::parse("a\t \n"), Err(1));
}

#[test]
fn an_echoed_prompt_note_is_caught() {
    let source = "دو کشور ۲۶۰۰ کیلومتر مرز مشترک دارند و TTP در آن فعال است.";
    let note = retry_note(source, &[], &[]);
    let echoed =
        format!("The two countries share a 2,600 km border where the TTP is active. ({note})");
    assert_eq!(
        kinds(&diagnose(source, &echoed, StopReason::Eos, &[])),
        ["echoed_note"]
    );
    let clean = "The two countries share a 2,600 km border where the TTP is active.";
    assert!(diagnose(source, clean, StopReason::Eos, &[]).is_empty());
}

#[test]
fn the_retry_note_lists_what_must_appear() {
    let note = retry_note("۵۰ نفر در حمله به دفتر Reuters کشته شدند.", &[], &[]);
    assert!(
        note.contains("50") && note.contains("Reuters") && note.contains("English only"),
        "{note}"
    );
}

#[test]
fn the_first_note_has_the_users_terms_and_the_retry_every_name() {
    let places = [GlossaryEntry::place("کابل", "Kabul", vec![]).unwrap()];
    let hint = |source: &str, target: &str, origin| GlossaryEntry {
        source: source.into(),
        target: target.into(),
        also: vec![],
        origin,
        matcher: source.into(),
    };
    let mine = hint("طالبان", "Taliban", TermOrigin::Glossary);
    let hints = [
        hint("اسلامآباد", "Islamabad", TermOrigin::Compound),
        hint("وثیق", "Vasiq", TermOrigin::Romanized),
    ];
    let terms: Vec<&GlossaryEntry> = places.iter().chain([&mine]).collect();
    let note = first_note(&terms).expect("a note");
    assert!(
        note.contains("طالبان = Taliban") && !note.contains("Kabul"),
        "{note}"
    );
    assert_eq!(first_note(&terms[..1]), None);
    let retry = retry_note("وثیق", &terms, &hints);
    for name in ["Kabul", "Taliban", "Islamabad", "Vasiq"] {
        assert!(retry.contains(name), "{retry}");
    }
}
