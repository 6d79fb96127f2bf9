"""bench/per-connection.py's Flask app: GET / -> a small JSON document, as a typical API route answers."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route('/')
def hello():
    return jsonify(hello='flask', q=request.args.get('q', ''))
