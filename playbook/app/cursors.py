"""Keyset pagination for a job's results: a page starts after the key of the previous page's last entry.

Entries are ordered by a text key compared code point by code point (PostgreSQL's "C"
collation): batch items by domain, contacts by address. Entries the database numbers
(places by position, sitemap documents and URLs by id) are keyed by a letter and the number
in `DIGITS` digits; the letter orders whole lists, documents (`d`) before URLs (`u`).
Any string is a place in that order, so any cursor a client sends is answered: the page
starts after it. A page reads at most `limit + 1` rows, whatever the job's size.
Does not guarantee: a snapshot. Rows a running job adds after the cursor's key appear on
later pages; rows before it do not.
"""

DIGITS = 10
# The id and position columns are 4-byte integers.
LARGEST_NUMBER = 2**31 - 1
_DIGIT_CHARACTERS = frozenset("0123456789")


def numbered_key(letter: str, number: int) -> str:
    return f"{letter}{number:0{DIGITS}d}"


def first_number_after(cursor: str | None, letter: str, *, digits: int = DIGITS) -> int | None:
    """The smallest n whose key `letter` + n in `digits` digits sorts after `cursor`;
    None when no such n is at most `LARGEST_NUMBER`."""
    if cursor is None:
        return 0
    if not cursor.startswith(letter):
        return 0 if cursor < letter else None
    rest = cursor[len(letter) :]
    # The digits the keys share with `rest`, up to its first character that is not one.
    shared = next((index for index, character in enumerate(rest[:digits]) if character not in _DIGIT_CHARACTERS), None)
    if shared is None:
        shared = len(rest[:digits])
        if shared == digits:
            # Equal digits make a key no longer than `rest`: only a greater number sorts after it.
            return _at_most_largest(int(rest[:digits]) + 1, digits=digits)
        # `rest` is a run of digits shorter than a key: keys beginning with it sort after it.
        return _at_most_largest(int(rest.ljust(digits, "0")), digits=digits)
    head = rest[:shared]
    if rest[shared] < "0":
        return _at_most_largest(int(head.ljust(digits, "0")), digits=digits)
    # Every key beginning with `head` sorts before `rest`: the next run of keys begins one higher.
    return _at_most_largest((int(head or "0") + 1) * 10 ** (digits - shared), digits=digits)


def _at_most_largest(number: int, *, digits: int) -> int | None:
    return number if number <= min(LARGEST_NUMBER, 10**digits - 1) else None
