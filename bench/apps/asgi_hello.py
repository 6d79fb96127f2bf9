"""The app every ASGI server runs in bench/asgi.py: FastAPI, a hello JSON route and a websocket echo."""
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


@app.get('/')
async def hello():
    return {'hello': 'world'}


@app.websocket('/ws')
async def echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
