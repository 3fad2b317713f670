"""The text of every mail we send a customer about their case, each with the case page's link,
and of the notices automation rules mail to staff (``staff_notice``: never the customer's link).
Pure: the link (``desk.portal.case_link``) and what to say are passed in.

The closing notice links to the exit survey: the case page opens it at ``#survey``.
"""

from __future__ import annotations

SURVEY_ANCHOR = "#survey"


def created(number: str, subject: str, link: str, expected: str | None = None) -> str:
    """``expected``: when the desk's service level promises a first answer
    (``desk.sla.expected_response``: "within 2 hours", "by Tuesday 10:00")."""
    promise = f"We will answer {expected}.\n\n" if expected else ""
    return (
        f"Thank you for your message. We have opened case {number} for it:\n\n"
        f"  {subject or '(no subject)'}\n\n{promise}"
        f"Follow it, reply or close it on its page:\n{link}\n\n"
        f"Or reply to this mail to add to it; please keep [{number}] in the subject.\n"
    )


def reply(number: str, text: str, link: str, *, with_text: bool) -> str:
    """A staff reply: its text (``with_text``, the department's "full" mode) or only word of
    new activity; the link either way, and replying by mail threads back in both."""
    if with_text:
        return f"{text}\n\n--\nYour case {number}: {link}\n"
    return (f"There is new activity on your case {number}.\n\n"
            f"Read it and answer on the case page:\n{link}\n\n"
            f"Or reply to this mail; please keep [{number}] in the subject.\n")


def copied_reply(number: str, text: str, *, with_text: bool) -> str:
    """A staff reply that others are copied on: without the customer's signed link (whoever is
    copied could open the case with it as the customer); replying by mail threads back."""
    said = text if with_text else f"There is new activity on case {number}."
    return f"{said}\n\n--\nCase {number}: reply to this mail; please keep [{number}] in " \
        "the subject.\n"


def forwarded(number: str, agent: str, note: str, lines: list[str]) -> str:
    """A ticket forwarded by staff to someone outside the desk: the note, the thread (its
    public messages), and how to answer. No case link: the reader is not the customer."""
    said = f"{note}\n\n" if note else ""
    return (f"{agent} forwarded case {number} to you.\n\n{said}"
            + "\n".join(lines)
            + f"\n\n--\nAnswer by replying to this mail; please keep [{number}] in the "
              "subject. Your answer reaches the support team only, not the customer.\n")


def closed(number: str, status: str, link: str) -> str:
    return (f"Your case {number} has been {status}.\n\n"
            f"How did we do? Rate it in one click:\n{link}{SURVEY_ANCHOR}\n\n"
            f"If anything is still open, reopen it there or reply to this mail and we will "
            f"pick it up again.\n")


def signin(link: str, ttl_s: int) -> str:
    minutes = max(1, ttl_s // 60)
    return (f"Here is your link to sign in and see your cases:\n{link}\n\n"
            f"It works once, for {minutes} minutes. If you did not ask for it, ignore this "
            f"mail: nobody can sign in without it.\n")


def transcript(number: str, lines: list[str], link: str) -> str:
    return (f"The transcript of your chat {number}:\n\n" + "\n".join(lines)
            + f"\n\nYour conversations: {link}\n")


def reminder(number: str, days: int, link: str) -> str:
    """The inactivity ladder's reminder: the case waits for the customer."""
    return (f"Your case {number} has been waiting for your reply for {days} days.\n\n"
            f"If you still need help, answer on its page:\n{link}\n\n"
            f"or reply to this mail; please keep [{number}] in the subject.\n")


def inactive_closed(number: str, days: int, link: str) -> str:
    """The ladder's last step: closed for silence, and open again at any time."""
    return (f"We have closed your case {number}: we had no reply from you for {days} days.\n\n"
            f"You can reopen it at any time, on its page or by replying to this mail:\n"
            f"{link}\n")


def staff_notice(number: str, subject: str, text: str, console_url: str) -> str:
    """A rule's notice to staff about case ``number``: the rule's text and where to work it
    (the console; the case page's link is the customer's own and never goes to staff)."""
    return (f"{text}\n\n"
            f"Case {number}: {subject or '(no subject)'}\n"
            f"Open it in the console: {console_url}\n\n"
            f"(Sent by an automation rule. Replies to this mail do not reach the case.)\n")
