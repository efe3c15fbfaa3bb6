from dialer.cli import app

app()
