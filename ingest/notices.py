"""The text of every mail we send a customer about their case, each with the case page's link,
and of the notices automation rules mail to staff (``staff_notice``: never the customer's link).
Pure: the link (``desk.portal.case_link``), what to say and the words of the customer's
language (``t``: a ``desk.i18n.Translator``, ``mail.*`` messages) are passed in; staff's
notices are in the console's language (English).

The closing notice links to the exit survey: the case page opens it at ``#survey``.
"""

from __future__ import annotations

from desk.i18n import Translator

SURVEY_ANCHOR = "#survey"


def created(t: Translator, number: str, subject: str, link: str,
            expected: str | None = None) -> str:
    """``expected``: when the desk's service level promises a first answer, in the same
    language (``desk.sla.expected_response``: "within 2 hours", "by Tuesday 10:00")."""
    promise = t("mail.created.promise", expected=expected) if expected else ""
    return t("mail.created", number=number, subject=subject or t("mail.no_subject"),
             promise=promise, link=link)


def reply(t: Translator, number: str, text: str, link: str, *, with_text: bool) -> str:
    """A staff reply: its text (``with_text``, the department's "full" mode) or only word of
    new activity; the link either way, and replying by mail threads back in both."""
    if with_text:
        return f"{text}\n\n--\n{t('mail.reply.footer', number=number, link=link)}\n"
    return t("mail.reply.activity", number=number, link=link)


def copied_reply(t: Translator, number: str, text: str, *, with_text: bool) -> str:
    """A staff reply that others are copied on: without the customer's signed link (whoever is
    copied could open the case with it as the customer); replying by mail threads back."""
    said = text if with_text else t("mail.copied.activity", number=number)
    return f"{said}\n\n--\n{t('mail.copied.footer', number=number)}\n"


def forwarded(number: str, agent: str, note: str, lines: list[str]) -> str:
    """A ticket forwarded by staff to someone outside the desk: the note, the thread (its
    public messages), and how to answer. No case link: the reader is not the customer, and
    these are staff's words (the console's language), not a customer's mail."""
    said = f"{note}\n\n" if note else ""
    return (f"{agent} forwarded case {number} to you.\n\n{said}"
            + "\n".join(lines)
            + f"\n\n--\nAnswer by replying to this mail; please keep [{number}] in the "
              "subject. Your answer reaches the support team only, not the customer.\n")


def closed(t: Translator, number: str, status: str, link: str) -> str:
    """``status``: resolved or closed."""
    headline = t("mail.closed.resolved" if status == "resolved" else "mail.closed.closed",
                 number=number)
    return t("mail.closed", headline=headline, link=link + SURVEY_ANCHOR)


def signin(t: Translator, link: str, ttl_s: int) -> str:
    return t("mail.signin", link=link, minutes=max(1, ttl_s // 60))


def author(t: Translator, name: str | None, kind: str) -> str:
    """Who wrote a transcript line: their name, else what they were (you, an agent)."""
    if name:
        return name
    return t({"contact": "mail.author.contact", "system": "mail.author.system"}.get(
        kind, "mail.author.agent"))


def transcript(t: Translator, number: str, lines: list[str], link: str) -> str:
    return t("mail.transcript", number=number, lines="\n".join(lines), link=link)


def reminder(t: Translator, number: str, days: int, link: str) -> str:
    """The inactivity ladder's reminder: the case waits for the customer."""
    return t("mail.reminder", number=number, days=days, link=link)


def inactive_closed(t: Translator, number: str, days: int, link: str) -> str:
    """The ladder's last step: closed for silence, and open again at any time."""
    return t("mail.inactive_closed", number=number, days=days, link=link)


def staff_notice(number: str, subject: str, text: str, console_url: str) -> str:
    """A rule's notice to staff about case ``number``: the rule's text and where to work it
    (the console; the case page's link is the customer's own and never goes to staff)."""
    return (f"{text}\n\n"
            f"Case {number}: {subject or '(no subject)'}\n"
            f"Open it in the console: {console_url}\n\n"
            f"(Sent by an automation rule. Replies to this mail do not reach the case.)\n")


def task_reminder(title: str, due: str | None, related: list[str], console_url: str) -> str:
    """The reminder of an internal task to its owner."""
    lines = [f"Reminder: {title}"]
    if due:
        lines.append(f"Due: {due}")
    if related:
        lines.append(f"About: {', '.join(related)}")
    return "\n".join([*lines, "", f"Open the console: {console_url}", "",
                      "(Sent by Switchboard's task reminders.)", ""])
