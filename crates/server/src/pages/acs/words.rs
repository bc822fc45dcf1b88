//! The ACS pages' words in Russian, Kazakh and English (the order's `language`).

use crate::pages::lang::Lang;

/// The words of the ACS pages in one language.
pub struct Words {
    pub issuer: &'static str,
    pub title: &'static str,
    pub merchant: &'static str,
    pub amount: &'static str,
    pub card: &'static str,
    pub prompt: &'static str,
    pub hint: &'static str,
    pub submit: &'static str,
    pub cancel: &'static str,
    pub wrong: &'static str,
    pub returning: &'static str,
    pub proceed: &'static str,
    pub done: &'static str,
    pub reference: &'static str,
    pub not_done: &'static str,
}

const WORDS: [Words; 3] = [
    Words {
        issuer: "эмитент песочницы",
        title: "Подтверждение платежа",
        merchant: "Магазин",
        amount: "Сумма",
        card: "Карта",
        prompt: "Введите одноразовый код из SMS",
        hint: "Песочница: код",
        submit: "Подтвердить",
        cancel: "Отменить",
        wrong: "Неверный код (499). Осталось попыток:",
        returning: "Возвращаемся в магазин…",
        proceed: "Продолжить",
        done: "Платёж выполнен",
        reference: "Номер операции:",
        not_done: "Платёж не выполнен",
    },
    Words {
        issuer: "құмсалғыш эмитенті",
        title: "Төлемді растау",
        merchant: "Дүкен",
        amount: "Сома",
        card: "Карта",
        prompt: "SMS-тегі бір реттік кодты енгізіңіз",
        hint: "Құмсалғыш: код",
        submit: "Растау",
        cancel: "Бас тарту",
        wrong: "Код қате (499). Қалған әрекеттер:",
        returning: "Дүкенге қайтамыз…",
        proceed: "Жалғастыру",
        done: "Төлем орындалды",
        reference: "Операция нөмірі:",
        not_done: "Төлем орындалмады",
    },
    Words {
        issuer: "sandbox issuer",
        title: "Confirm the payment",
        merchant: "Merchant",
        amount: "Amount",
        card: "Card",
        prompt: "Enter the one-time code sent to your phone",
        hint: "Sandbox: the code is",
        submit: "Confirm",
        cancel: "Cancel",
        wrong: "Wrong code (499). Attempts left:",
        returning: "Returning to the store…",
        proceed: "Continue",
        done: "The payment is done",
        reference: "Reference:",
        not_done: "The payment failed",
    },
];

pub fn words(lang: Lang) -> &'static Words {
    &WORDS[lang.index()]
}
