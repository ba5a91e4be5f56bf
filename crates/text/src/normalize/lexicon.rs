//! The small word lists behind [`super::repair_zwnj`].
//!
//! Kept short on purpose: each list feeds one morphological rule, and a
//! word belongs here only if the rule cannot tell it apart otherwise. The
//! lists were written from general knowledge of Persian morphology and news
//! vocabulary, then checked against the Persian side of TICO-19 (see
//! `examples/zwnj_eval.rs`), not fitted to a test article.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::letters::ZWNJ;

/// Present stems: `می` + stem + a personal ending is a verb ("می‌کنند").
const PRESENT_STEMS: &[&str] = &[
    "آموز",
    "آور",
    "آی",
    "آرا",
    "آرای",
    "آمیز",
    "آویز",
    "افت",
    "افزا",
    "افزای",
    "افکن",
    "انداز",
    "اندیش",
    "انگیز",
    "ایست",
    "بار",
    "باش",
    "بای",
    "بخش",
    "بر",
    "بند",
    "بین",
    "پاش",
    "پذیر",
    "پرداز",
    "پراکن",
    "پرس",
    "پرور",
    "پسند",
    "پوش",
    "پیما",
    "پیمای",
    "پیوند",
    "تاب",
    "ترس",
    "تراش",
    "توان",
    "جنگ",
    "جو",
    "جوی",
    "چرخ",
    "چسب",
    "چین",
    "خند",
    "خواه",
    "خوان",
    "خواب",
    "خور",
    "خر",
    "خیز",
    "دار",
    "دان",
    "ده",
    "دو",
    "دوز",
    "رس",
    "رسان",
    "ران",
    "رقص",
    "رو",
    "روی",
    "ریز",
    "زن",
    "زی",
    "زا",
    "زای",
    "ساز",
    "سپار",
    "ستیز",
    "سنج",
    "سوز",
    "شکن",
    "شکاف",
    "شمار",
    "شناس",
    "شنو",
    "شو",
    "طلب",
    "فرست",
    "فروش",
    "فشار",
    "فهم",
    "کار",
    "کاه",
    "کاو",
    "کش",
    "کن",
    "کوب",
    "کوش",
    "گذار",
    "گذر",
    "گرا",
    "گرای",
    "گرد",
    "گری",
    "گریز",
    "گزین",
    "گستر",
    "گشا",
    "گشای",
    "گمار",
    "گو",
    "گوی",
    "گیر",
    "لرز",
    "لغز",
    "مان",
    "میر",
    "نام",
    "نشان",
    "نشین",
    "نما",
    "نمای",
    "نویس",
    "یاب",
];

/// Past stems: `می` + stem (+ ending) is a verb ("می‌کرد"); stem + `ه` is a
/// past participle ("کرده"), before whose perfect endings a ZWNJ goes.
const PAST_STEMS: &[&str] = &[
    "آراست",
    "آمد",
    "آموخت",
    "آمیخت",
    "آورد",
    "آویخت",
    "افتاد",
    "افراشت",
    "افزود",
    "افکند",
    "انداخت",
    "اندیشید",
    "انگیخت",
    "ایستاد",
    "بارید",
    "بایست",
    "بخشید",
    "برد",
    "بست",
    "بود",
    "پاشید",
    "پخت",
    "پذیرفت",
    "پراکند",
    "پرداخت",
    "پرسید",
    "پرورد",
    "پسندید",
    "پوشید",
    "پیمود",
    "پیوست",
    "تابید",
    "ترسید",
    "توانست",
    "جست",
    "جنگید",
    "چرخید",
    "چسبید",
    "چید",
    "خاست",
    "خرید",
    "خندید",
    "خواست",
    "خواند",
    "خوابید",
    "خورد",
    "داد",
    "داشت",
    "دانست",
    "دوخت",
    "دوید",
    "دید",
    "راند",
    "رساند",
    "رسانید",
    "رسید",
    "رفت",
    "ریخت",
    "زد",
    "زیست",
    "ساخت",
    "سپرد",
    "سنجید",
    "سوخت",
    "شد",
    "شکست",
    "شمرد",
    "شناخت",
    "شنید",
    "طلبید",
    "فرستاد",
    "فروخت",
    "فشرد",
    "فهمید",
    "کاست",
    "کاشت",
    "کرد",
    "کشت",
    "کشید",
    "کوبید",
    "کوشید",
    "گذاشت",
    "گذشت",
    "گرایید",
    "گردید",
    "گرفت",
    "گریخت",
    "گریست",
    "گزید",
    "گسترد",
    "گشت",
    "گشود",
    "گفت",
    "گماشت",
    "لرزید",
    "ماند",
    "مرد",
    "نامید",
    "نشاند",
    "نشست",
    "نمود",
    "نوشت",
    "یافت",
];

/// Words that look like `می` + verb but are not verbs.
const NOT_VERBS: &[&str] = &[
    // "field" (adjective) reads like "you know".
    "میدانی",
];

/// Nouns and adjectives ending in a silent ه (the vowel e), before which
/// the indefinite ای, the ezafe ی and the personal endings take a ZWNJ
/// ("برنامهای" is "برنامه‌ای"). Words of four letters or more also count at
/// the end of a longer word ("بینگونهای", "خاورمیانهای"). Words whose
/// ه-less form is also a common word with a plural (نامه/نام, دسته/دست,
/// نشانه/نشان, گوشه/گوش, روده/رود, دره/در, حرفه/حرف) are left out:
/// "نامهای" may be "نام‌های" as well as "نامه‌ای".
const SILENT_HEH_WORDS: &[&str] = &[
    "آماده",
    "آینده",
    "اجازه",
    "اداره",
    "اطلاعیه",
    "اندازه",
    "بودجه",
    "بیانیه",
    "پایه",
    "پدیده",
    "پرونده",
    "پروژه",
    "پنجره",
    "پیچیده",
    "تازه",
    "تجربه",
    "ترجمه",
    "تصفیه",
    "توسعه",
    "توصیه",
    "تهیه",
    "ثانیه",
    "جامعه",
    "جلسه",
    "جمله",
    "چرخه",
    "چهره",
    "حادثه",
    "حمله",
    "حوزه",
    "خانواده",
    "خانه",
    "خلاصه",
    "دایره",
    "دقیقه",
    "دوره",
    "ذخیره",
    "رابطه",
    "رسانه",
    "روزنامه",
    "ریه",
    "زاویه",
    "زمینه",
    "ساده",
    "سایه",
    "سرمایه",
    "سوژه",
    "شبکه",
    "شیوه",
    "صفحه",
    "ضربه",
    "عارضه",
    "عقیده",
    "فاصله",
    "فرضیه",
    "قرنطینه",
    "قطعه",
    "کمیته",
    "گزینه",
    "گسترده",
    "گونه",
    "لایه",
    "لحظه",
    "ماده",
    "مجموعه",
    "محدوده",
    "مرحله",
    "مرتبه",
    "مسابقه",
    "مسئله",
    "مشاهده",
    "مصاحبه",
    "مطالعه",
    "معامله",
    "معاینه",
    "مقاله",
    "مقایسه",
    "مقدمه",
    "ملاحظه",
    "منطقه",
    "موسسه",
    "مؤسسه",
    "ناحیه",
    "نتیجه",
    "نحوه",
    "نسخه",
    "نظریه",
    "نقشه",
    "نماینده",
    "نمونه",
    "وسیله",
    "وظیفه",
    "هدیه",
    "هزینه",
    "هفته",
    "برنامه",
    "ادامه",
    "اشاره",
    "اعلامیه",
    "اولیه",
    "بچه",
    "بسته",
    "ثانویه",
    "جاده",
    "خوشه",
    "دهنده",
    "رشته",
    "زنجیره",
    "سابقه",
    "سینه",
    "شونده",
    "شیشه",
    "ضمیمه",
    "فاجعه",
    "قطعنامه",
    "کننده",
    "کوچه",
    "معده",
    "مقابله",
    "میانه",
    "نشریه",
    "همسایه",
    "توطئه",
    "هسته",
    "پارچه",
];

/// Adjectives that take the comparative تر and superlative ترین after a
/// ZWNJ. بیش, کم, به and پیش are left out: "بیشتر", "کمتر", "بهتر" and
/// "پیشتر" are written joined. Nouns ending in تر (دفتر, دکتر, متر, بستر,
/// دختر) are why this is a list and not a rule.
const COMPARABLE_ADJECTIVES: &[&str] = &[
    "آسان",
    "آرام",
    "اساسی",
    "اصلی",
    "امن",
    "ایمن",
    "بزرگ",
    "بلند",
    "پایین",
    "پیچیده",
    "پیشرفته",
    "تاریک",
    "تازه",
    "تلخ",
    "تند",
    "تیز",
    "جالب",
    "جامع",
    "جدی",
    "جدید",
    "جوان",
    "حساس",
    "حیاتی",
    "خطرناک",
    "دقیق",
    "راحت",
    "رایج",
    "روشن",
    "ساده",
    "سالم",
    "سبک",
    "سخت",
    "سریع",
    "سنگین",
    "شایع",
    "شدید",
    "شکننده",
    "شلوغ",
    "شیرین",
    "ضروری",
    "ضعیف",
    "طولانی",
    "عادی",
    "عالی",
    "عجیب",
    "عمومی",
    "عمیق",
    "غنی",
    "فوری",
    "قدیمی",
    "قوی",
    "کشنده",
    "کلی",
    "کوتاه",
    "کوچک",
    "گرم",
    "گران",
    "گسترده",
    "محکم",
    "مسری",
    "مسن",
    "مشخص",
    "مشکل",
    "ملایم",
    "مناسب",
    "مهلک",
    "مهم",
    "نزدیک",
    "واضح",
    "وخیم",
    "وسیع",
];

/// Second halves of compounds that start a new part of the word
/// ("همه‌گیری", "اسلام‌آباد"), with the least number of letters the first
/// half must have, and whether that half must end in a vowel (ی or ه).
/// Where one head ends another, the longer comes first.
pub(super) const COMPOUND_HEADS: &[(&str, usize, bool)] = &[
    ("کنندگان", 2, false),
    ("کنندگی", 2, false),
    ("کننده", 2, false),
    ("گذاران", 2, false),
    ("گذاری", 2, false),
    ("گذار", 2, false),
    // Two-letter first halves are fused: "رهگیری", "پیگیری", "یادگیری".
    ("گیری", 3, false),
    ("گیر", 3, false),
    ("شناسان", 2, false),
    ("شناسی", 2, false),
    ("شناس", 2, false),
    ("پذیری", 2, false),
    ("پذیر", 2, false),
    ("گرایان", 3, false),
    ("گرایی", 3, false),
    ("گرای", 3, false),
    // "همگرا" (convergent) is one word.
    ("گرا", 3, false),
    ("سازی", 2, false),
    ("برداری", 2, false),
    ("اندازی", 2, false),
    ("دهندگان", 2, false),
    ("دهنده", 2, false),
    ("نشده", 2, false),
    ("شدگان", 2, false),
    ("شده", 2, false),
    ("رسانی", 2, false),
    ("بندی", 2, false),
    ("آمیز", 2, false),
    ("انگیز", 2, false),
    ("آباد", 2, false),
    ("بینی", 2, false),
    ("آوری", 2, false),
    ("آور", 2, false),
    // The agent suffix گر(ی) joins a consonant ("پژوهشگری", "گردشگری")
    // but not a vowel ("میانجی‌گری", "مداخله‌گری"); "دیگری" (another) is
    // why the first half needs three letters.
    ("گری", 3, true),
    // "تبریزی" is why this one needs three.
    ("ریزی", 3, false),
];

/// Words that end in a compound head but are written joined.
const NOT_COMPOUNDS: &[&str] = &["پیشگیری", "پیشگیر", "دستگیری", "دستگیر"];

/// Words ending in ها that are not plurals, matched at the start of the
/// word so that their own inflections ("تنهایی", "انتهای") are covered.
pub(super) const NOT_PLURALS: &[&str] = &[
    "تنها",
    "انتها",
    "اشتها",
    "منتها",
    "فقها",
    "سفها",
    "گرانبها",
    "کمبها",
    "پربها",
    "خونبها",
    "شانگهای",
    "فارنهایت",
];

/// Plural bases written joined by convention: "آنها", "اینها".
pub(super) const JOINED_PLURAL_BASES: &[&str] = &["آن", "این"];

/// Compounds written with a ZWNJ that no rule finds, spelled correctly.
const COMPOUNDS: &[&str] = &[
    "آتش‌بس",
    "آتش‌سوزی",
    "آتش‌نشانی",
    "آسیب‌دیده",
    "آسیب‌دیدگان",
    "به‌تازگی",
    "به‌خصوص",
    "به‌خوبی",
    "به‌دنبال",
    "به‌رغم",
    "به‌زودی",
    "به‌سرعت",
    "به‌شدت",
    "به‌طور",
    "به‌عنوان",
    "به‌منظور",
    "به‌موقع",
    "به‌ویژه",
    "بی‌اثر",
    "بی‌اطلاع",
    "بی‌اعتماد",
    "بی‌اعتمادی",
    "بی‌اهمیت",
    "بی‌پایان",
    "بی‌تفاوت",
    "بی‌تفاوتی",
    "بی‌توجه",
    "بی‌توجهی",
    "بی‌ثبات",
    "بی‌ثباتی",
    "بی‌حسی",
    "بی‌خانمان",
    "بی‌خطر",
    "بی‌درنگ",
    "بی‌دفاع",
    "بی‌رویه",
    "بی‌سابقه",
    "بی‌سرپرست",
    "بی‌سواد",
    "بی‌شک",
    "بی‌شمار",
    "بی‌ضرر",
    "بی‌طرف",
    "بی‌طرفی",
    "بی‌علامت",
    "بی‌فایده",
    "بی‌گناه",
    "بی‌نتیجه",
    "بی‌نظیر",
    "بین‌الملل",
    "بین‌المللی",
    "بین‌النهرین",
    "پس‌لرزه",
    "پیش‌شرط",
    "پیش‌نویس",
    "جان‌باخته",
    "جان‌باختگان",
    "دست‌کم",
    "دیده‌بان",
    "ذات‌الریه",
    "روبه‌رو",
    "روبه‌رویی",
    "شبه‌جزیره",
    "شبه‌نظامی",
    "علی‌رغم",
    "فوق‌العاده",
    "کوتاه‌مدت",
    "گفت‌وشنود",
    "گفت‌وگو",
    "مرگ‌ومیر",
    "میان‌مدت",
    "نخست‌وزیر",
    "هم‌اکنون",
    "حمل‌ونقل",
    "هنگ‌کنگ",
    "سه‌شنبه",
    "پنج‌شنبه",
    "ایده‌آل",
    "بین‌گونه",
    "بیماری‌زا",
    "سرطان‌زا",
    "تنش‌زا",
    "آسیب‌زا",
    "عفونت‌زا",
    "اشتغال‌زا",
    "مشکل‌زا",
    "کسب‌وکار",
    "رئیس‌جمهور",
    "بی‌بی‌سی",
    "آنتی‌بیوتیک",
    "آنتی‌بادی",
    "آنتی‌ژن",
];

fn set(
    words: &'static [&'static str],
    cell: &'static OnceLock<HashSet<&'static str>>,
) -> &'static HashSet<&'static str> {
    cell.get_or_init(|| words.iter().copied().collect())
}

pub(super) fn is_present_stem(s: &str) -> bool {
    static CELL: OnceLock<HashSet<&str>> = OnceLock::new();
    set(PRESENT_STEMS, &CELL).contains(s)
}

pub(super) fn is_past_stem(s: &str) -> bool {
    static CELL: OnceLock<HashSet<&str>> = OnceLock::new();
    set(PAST_STEMS, &CELL).contains(s)
}

pub(super) fn is_not_verb(s: &str) -> bool {
    NOT_VERBS.contains(&s)
}

/// `s` is a listed silent-ه word, or ends with one of four letters or more.
pub(super) fn ends_in_silent_heh_word(s: &str) -> bool {
    static CELL: OnceLock<HashSet<&str>> = OnceLock::new();
    let words = set(SILENT_HEH_WORDS, &CELL);
    words.contains(s)
        || s.char_indices()
            .skip(1)
            .any(|(i, _)| s[i..].chars().count() >= 4 && words.contains(&s[i..]))
}

pub(super) fn is_comparable_adjective(s: &str) -> bool {
    static CELL: OnceLock<HashSet<&str>> = OnceLock::new();
    set(COMPARABLE_ADJECTIVES, &CELL).contains(s)
}

pub(super) fn is_not_compound(s: &str) -> bool {
    NOT_COMPOUNDS.contains(&s)
}

/// The ZWNJ positions (in characters, counted without ZWNJs) of a listed
/// compound, looked up by its letters alone.
pub(super) fn compound_breaks(letters: &str) -> Option<&'static [usize]> {
    static CELL: OnceLock<HashMap<String, Vec<usize>>> = OnceLock::new();
    let map = CELL.get_or_init(|| {
        COMPOUNDS
            .iter()
            .map(|word| {
                let mut breaks = Vec::new();
                let mut letters = String::with_capacity(word.len());
                let mut count = 0;
                for c in word.chars() {
                    if c == ZWNJ {
                        breaks.push(count);
                    } else {
                        letters.push(c);
                        count += 1;
                    }
                }
                (letters, breaks)
            })
            .collect()
    });
    map.get(letters).map(Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_clean() {
        let lists: [&[&str]; 9] = [
            PRESENT_STEMS,
            PAST_STEMS,
            NOT_VERBS,
            SILENT_HEH_WORDS,
            COMPARABLE_ADJECTIVES,
            NOT_COMPOUNDS,
            NOT_PLURALS,
            JOINED_PLURAL_BASES,
            COMPOUNDS,
        ];
        for list in lists {
            let unique: HashSet<_> = list.iter().collect();
            assert_eq!(unique.len(), list.len(), "duplicates in {list:?}");
            for word in list {
                assert!(!word.is_empty(), "empty word in {list:?}");
                assert!(!word.contains(['ي', 'ك', 'ى']), "Arabic letter in {word:?}");
            }
        }
        for list in [
            PRESENT_STEMS,
            PAST_STEMS,
            SILENT_HEH_WORDS,
            COMPARABLE_ADJECTIVES,
        ] {
            assert!(list.iter().all(|w| !w.contains(ZWNJ)), "{list:?}");
        }
        assert!(SILENT_HEH_WORDS.iter().all(|w| w.ends_with('ه')));
        assert!(COMPOUNDS.iter().all(|w| w.contains(ZWNJ)));
    }

    #[test]
    fn compound_lookup_ignores_zwnj() {
        assert_eq!(compound_breaks("گفتوگو"), Some(&[3][..]));
        assert_eq!(compound_breaks("روبهرو"), Some(&[4][..]));
        assert_eq!(compound_breaks("گفت‌وگو"), None);
        assert_eq!(compound_breaks("کتاب"), None);
    }
}
