"""A legacy "SQL migration pretty-printer": formats and classifies the statements of a script.

It uses sqlparse as its documentation says and knows nothing about capturing.
"""

import sqlparse

SCRIPT = """
select id, name as full_name from users u where u.active = 1 and u.age > 30;
insert into audit (user_id, action) values (1, 'login');
update accounts set balance = balance - 10 where id = 7;
"""


def main() -> None:
    for statement in sqlparse.split(SCRIPT):
        print(sqlparse.format(statement, keyword_case="upper", reindent=True, indent_width=2))
        parsed = sqlparse.parse(statement)[0]
        print("--", parsed.get_type())
        for token in parsed.tokens:
            if isinstance(token, sqlparse.sql.Identifier):
                print("--  identifier", token.get_real_name(), "alias", token.get_alias())


if __name__ == "__main__":
    main()
