"""Appended to activations.py: prints and raises text made to break out of the HTML feedback page's <pre>,
<blockquote> and <title>, run script, fetch a URL or be read as template syntax. The page must show it as text,
run nothing and fetch nothing; only relu's checks are lost."""

_PAYLOAD = (
    "</pre></blockquote></textarea></title></style><script>document.body.setAttribute('data-pwned','1')</script>"
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
    "<a href=\"javascript:document.body.setAttribute('data-pwned','1')\">click</a>"
    "<link rel=stylesheet href=https://evil.example/a.css><img src=https://evil.example/pixel.png>"
    "{{ 7*7 }}{% raw %}${7*7}\x1b[31m\x07\x00\x08\u202e"
)
print(_PAYLOAD)


def relu(x):
    print(_PAYLOAD * 3)
    raise ValueError(_PAYLOAD + "<!--" + "A" * 200_000)
