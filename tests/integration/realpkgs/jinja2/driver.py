"""A legacy "invoice mailer": renders the invoices and their subjects with jinja2 templates.

It uses jinja2 as its documentation says and knows nothing about capturing.
"""

from jinja2 import DictLoader, Environment

TEMPLATES = {
    "base.html": "<h1>{% block title %}{% endblock %}</h1>{% block body %}{% endblock %}",
    "invoice.html": (
        '{% extends "base.html" %}{% block title %}{{ customer | title }}{% endblock %}'
        "{% block body %}<p>{{ note }}</p><p>{{ terms | wordwrap(24) }}</p>"
        "{% for line in lines %}<li>{{ line.item | title }}: {{ line.qty }}</li>{% endfor %}"
        "{% endblock %}"
    ),
}
TERMS = "Payment is due within thirty days of the invoice date, without deduction."


def main() -> None:
    # No template cache: the templates are rendered once each, by a batch job.
    env = Environment(loader=DictLoader(TEMPLATES), autoescape=True, cache_size=0)
    subject = env.from_string("Invoice {{ number }} for {{ customer | title }}")
    for number, customer in enumerate(["ada lovelace", "gRACE hOPPER"], start=1000):
        print(subject.render(number=number, customer=customer))
        page = env.get_template("invoice.html")
        print(
            page.render(
                customer=customer,
                note="<b>VIP</b> & friend",
                terms=TERMS,
                lines=[{"item": "blue widget", "qty": 2}, {"item": "GADGET", "qty": 1}],
            )
        )


if __name__ == "__main__":
    main()
