"""The knowledge-search benchmark's data: a real-estate seller's catalogue and FAQ (45 passages), and
65 questions written as customers write them on WhatsApp (typos, no accents, slang, abbreviations),
each with the passage that answers it. Plus a generator of look-alike passages of other projects,
to grow the collection to 100,000 without making the task easier.
"""

from __future__ import annotations

import random

# key → passage, one Markdown section each (the heading is kept with its text when split).
PASSAGES: dict[str, str] = {
    "torre_sol_precio": "Torre Sol – precios\nApartamentos de 2 habitaciones desde 250 millones y de 3 habitaciones desde 320 millones. Precios de lista vigentes hasta el 31 de diciembre.",
    "torre_sol_ubicacion": "Torre Sol – ubicación\nCalle 10 # 43-20, barrio El Poblado, Medellín. A 5 minutos caminando de la estación Poblado del metro.",
    "torre_sol_areas": "Torre Sol – áreas\nEl apartamento de 2 habitaciones mide 68 m² y el de 3 habitaciones 86 m². Todos con balcón.",
    "torre_sol_entrega": "Torre Sol – entrega\nLa entrega de los apartamentos está prevista para junio de 2027. La obra va en el piso 14 de 22.",
    "torre_sol_amenidades": "Torre Sol – zonas comunes\nPiscina climatizada, gimnasio, zona BBQ, salón social y parque infantil en la terraza.",
    "parque_norte_precio": "Parque Norte – precios\nCasas de 3 habitaciones desde 480 millones, con patio y dos parqueaderos.",
    "parque_norte_ubicacion": "Parque Norte – ubicación\nVía Las Palmas km 8, Envigado. Condominio cerrado con portería 24 horas.",
    "parque_norte_areas": "Parque Norte – áreas\nCasas de 140 m² construidos en lote de 200 m², de dos niveles.",
    "parque_norte_entrega": "Parque Norte – entrega\nCasas listas para entregar de inmediato: la obra está terminada.",
    "mirador_precio": "Mirador del Río – precios\nApartaestudios de 1 habitación desde 180 millones, ideales para inversión y renta corta.",
    "mirador_ubicacion": "Mirador del Río – ubicación\nCarrera 50 # 12 sur, Itagüí, frente al río y a 10 minutos de la estación Ayurá.",
    "mirador_renta": "Mirador del Río – renta corta\nEl reglamento permite arrendar por días (Airbnb); la administración gestiona la recepción.",
    "parqueadero": "Parqueadero\nCada apartamento de Torre Sol incluye un parqueadero cubierto. Parqueaderos adicionales: 35 millones. Mirador del Río no incluye parqueadero; se alquila en el edificio por 150 mil al mes.",
    "deposito": "Depósito (cuarto útil)\nTorre Sol ofrece depósitos de 3 m² por 12 millones; se compran junto con el apartamento.",
    "mascotas": "Mascotas\nTodos los proyectos aceptan perros y gatos. Torre Sol tiene zona para mascotas en el primer piso.",
    "administracion": "Cuota de administración\nTorre Sol: 4.500 pesos por m² al mes (unos 310 mil para 68 m²). Parque Norte: 650 mil al mes por casa.",
    "separacion": "Separación\nSe separa el inmueble con 5 millones, que se descuentan de la cuota inicial. La separación dura 15 días.",
    "cuota_inicial": "Cuota inicial\nLa cuota inicial es el 30 % del precio, pagadero en cuotas mensuales hasta la entrega. El 70 % restante con crédito o recursos propios.",
    "credito": "Crédito hipotecario\nTrabajamos con Bancolombia, Davivienda y BBVA. Le ayudamos a tramitar la carta de aprobación del crédito sin costo.",
    "leasing": "Leasing habitacional\nTambién puede comprar con leasing habitacional: el banco compra el inmueble y usted paga un canon mensual con opción de compra.",
    "subsidio": "Subsidio de vivienda\nMi Casa Ya aplica solo para vivienda de interés social (VIS). Mirador del Río es VIS; Torre Sol y Parque Norte no lo son.",
    "cesantias": "Cesantías\nPuede usar sus cesantías para la cuota inicial: el fondo las gira directamente a la fiduciaria del proyecto.",
    "fiduciaria": "Fiduciaria\nLos pagos se consignan a Fiduciaria Bogotá, encargo fiduciario a nombre del proyecto, nunca a cuentas personales.",
    "documentos": "Documentos para comprar\nCédula, certificado laboral o de ingresos, extractos bancarios de 3 meses y declaración de renta si declara.",
    "extranjeros": "Compradores en el exterior\nColombianos en el exterior y extranjeros pueden comprar; se firma con poder ante consulado y se paga por transferencia internacional registrada en el Banco de la República.",
    "visitas": "Visitas a la sala de ventas\nSala de ventas de Torre Sol abierta de lunes a sábado de 9:00 a 18:00 y domingos de 10:00 a 14:00. Agende su visita por WhatsApp.",
    "apartamento_modelo": "Apartamento modelo\nEn la sala de ventas hay un apartamento modelo amoblado de 2 habitaciones para conocer los acabados.",
    "acabados": "Acabados\nPisos en porcelanato, cocina integral con mesón en cuarzo, baños enchapados y ventanería en aluminio. Se entregan listos para vivir.",
    "personalizacion": "Cambios en el apartamento\nSe pueden pedir cambios de acabados hasta 8 meses antes de la entrega; tienen costo adicional según el cambio.",
    "estrato": "Estrato\nTorre Sol y Parque Norte son estrato 5; Mirador del Río es estrato 3.",
    "valorizacion": "Valorización\nEn El Poblado los inmuebles nuevos se han valorizado entre 8 % y 10 % al año en los últimos cinco años (datos de la Lonja de Medellín).",
    "arriendo_estimado": "Arriendo estimado\nUn apartamento de 2 habitaciones en Torre Sol se arrienda entre 2,8 y 3,2 millones al mes.",
    "gastos_notariales": "Gastos de escrituración\nLos gastos notariales se pagan por partes iguales; la boleta de registro y beneficencia la paga el comprador (cerca del 1,7 % del valor).",
    "promocion": "Promoción de diciembre\nQuien separe en diciembre recibe el depósito gratis o un 2 % de descuento pagando de contado.",
    "descuento_contado": "Pago de contado\nPagando el 100 % antes de la entrega hay un descuento del 5 % sobre el precio de lista.",
    "garantia": "Garantía\nGarantía de un año en acabados y de diez años en estructura, según la ley de vivienda nueva.",
    "cancelacion": "Desistimiento\nSi desiste de la compra antes de firmar la promesa, se devuelve la separación menos 10 % de gastos administrativos.",
    "promesa": "Promesa de compraventa\nLa promesa se firma dentro de los 15 días siguientes a la separación, con la cuota inicial pactada.",
    "energia_gas": "Servicios públicos\nLos inmuebles se entregan con medidores de energía, agua y gas natural instalados y legalizados.",
    "seguridad": "Seguridad\nTorre Sol y Parque Norte tienen portería 24 horas, circuito cerrado de televisión y control de acceso con tarjeta.",
    "ascensores": "Ascensores\nTorre Sol tiene tres ascensores, uno de ellos de carga, y planta eléctrica para zonas comunes.",
    "colegios": "Colegios cercanos\nCerca de Torre Sol están el Colegio San José de La Salle y el Columbus School (a 15 minutos).",
    "transporte": "Transporte\nDesde Parque Norte hay buses a El Poblado cada 15 minutos; el aeropuerto José María Córdova queda a 35 minutos.",
    "vista": "Vista\nDesde el piso 10 los apartamentos de Torre Sol tienen vista a la ciudad; los de esquina tienen vista a las montañas.",
    "horario_asesor": "Atención por WhatsApp\nLos asesores responden de lunes a sábado de 8:00 a 19:00. Fuera de ese horario el asistente toma sus datos.",
}

# (question as a customer writes it, key of the passage that answers it)
QUESTIONS: list[tuple[str, str]] = [
    ("cuanto vale el apto de 2 habitaciones en torre sol", "torre_sol_precio"),
    ("precio d los de 3 alcobas??", "torre_sol_precio"),
    ("q precio tienen los aptos", "torre_sol_precio"),
    ("donde queda torre sol", "torre_sol_ubicacion"),
    ("eso es cerca al metro?", "torre_sol_ubicacion"),
    ("cuantos metros tiene el de 2 cuartos", "torre_sol_areas"),
    ("tiene balcon el apartamento", "torre_sol_areas"),
    ("pa cuando entregan torre sol", "torre_sol_entrega"),
    ("en que piso va la obra", "torre_sol_entrega"),
    ("tiene picina y gym?", "torre_sol_amenidades"),
    ("hay zona bbq", "torre_sol_amenidades"),
    ("cuanto cuestan las casas de parque norte", "parque_norte_precio"),
    ("precio casa con patio", "parque_norte_precio"),
    ("parque norte en q parte queda", "parque_norte_ubicacion"),
    ("es conjunto cerrado con porteria?", "parque_norte_ubicacion"),
    ("de cuantos metros son las casas", "parque_norte_areas"),
    ("las casas son de 2 pisos?", "parque_norte_areas"),
    ("las casas ya estan listas pa entregar", "parque_norte_entrega"),
    ("tienen apartaestudios baratos", "mirador_precio"),
    ("busco algo para invertir, de una alcoba", "mirador_precio"),
    ("donde queda mirador del rio", "mirador_ubicacion"),
    ("se puede poner en airbnb?", "mirador_renta"),
    ("puedo arrendar por dias", "mirador_renta"),
    ("el parqeadero esta incluido?", "parqueadero"),
    ("cuanto vale un parqueadero adicional", "parqueadero"),
    ("mirador tiene garaje?", "parqueadero"),
    ("venden cuarto util", "deposito"),
    ("tienen deposito?", "deposito"),
    ("aceptan perritos", "mascotas"),
    ("tengo 2 gatos hay problema?", "mascotas"),
    ("cuanto es la admon", "administracion"),
    ("valor de la administracion mensual", "administracion"),
    ("como separo el apto", "separacion"),
    ("con cuanto se separa", "separacion"),
    ("de cuanto es la cuota inicial", "cuota_inicial"),
    ("puedo pagar la inicial a cuotas", "cuota_inicial"),
    ("con q bancos trabajan pal credito", "credito"),
    ("me ayudan con el credito hipotecario?", "credito"),
    ("se puede por leasing", "leasing"),
    ("aplica subsidio mi casa ya?", "subsidio"),
    ("es vivienda vis?", "subsidio"),
    ("puedo usar las cesantias", "cesantias"),
    ("a nombre de quien consigno la plata", "fiduciaria"),
    ("q papeles necesito pa comprar", "documentos"),
    ("que documentos piden", "documentos"),
    ("vivo en españa, puedo comprar desde alla?", "extranjeros"),
    ("soy extranjero se puede comprar", "extranjeros"),
    ("a q hora abre la sala de ventas", "visitas"),
    ("puedo ir el domingo a ver", "visitas"),
    ("hay apartamento modelo pa ver los acabados?", "apartamento_modelo"),
    ("que acabados trae, el piso es porcelanato?", "acabados"),
    ("la cocina es integral?", "acabados"),
    ("puedo cambiar los acabados", "personalizacion"),
    ("que estrato es", "estrato"),
    ("eso se valoriza?", "valorizacion"),
    ("en cuanto se arrienda un apto asi", "arriendo_estimado"),
    ("quien paga la escrituracion y notaria", "gastos_notariales"),
    ("hay alguna promo en diciembre", "promocion"),
    ("si pago de contado me hacen descuento", "descuento_contado"),
    ("que garantia tiene", "garantia"),
    ("si me arrepiento me devuelven la plata de la separacion", "cancelacion"),
    ("cuando se firma la promesa de compraventa", "promesa"),
    ("lo entregan con gas y contadores?", "energia_gas"),
    ("es seguro el edificio, tiene vigilancia", "seguridad"),
    ("cuantos ascensores tiene", "ascensores"),
    ("hay colegios buenos cerca", "colegios"),
    ("que tan lejos queda del aeropuerto", "transporte"),
    ("tiene buena vista?", "vista"),
    ("a que horas responden los asesores", "horario_asesor"),
]

_CITIES = ["Bello", "Sabaneta", "La Estrella", "Rionegro", "Caldas", "Copacabana", "Girardota", "Guarne"]
_NAMES = ["Altos", "Reserva", "Bosque", "Jardines", "Portal", "Mirador", "Balcones", "Terrazas", "Prados"]
_NOUNS = ["del Valle", "de la Colina", "Campestre", "del Sur", "Real", "Verde", "de San Juan", "Central"]
_TOPICS = [
    "Apartamentos de {rooms} habitaciones desde {price} millones, {area} m².",
    "Casas de {rooms} habitaciones con patio desde {price} millones.",
    "Entrega prevista para {month} de {year}; la obra va en el piso {floor}.",
    "Zonas comunes: piscina, gimnasio y salón social en el piso {floor}.",
    "Administración de {admin} mil pesos al mes; estrato {stratum}.",
    "Parqueadero comunal y {rooms} ascensores; portería {hours} horas.",
    "Separación con {sep} millones; cuota inicial del {pct} % a {months} meses.",
    "Sala de ventas abierta de {open}:00 a {close}:00, con apartamento modelo.",
]
_MONTHS = ["enero", "marzo", "mayo", "julio", "septiembre", "noviembre"]


def distractors(count: int, *, seed: int = 7) -> list[str]:
    """Look-alike passages of other (made-up) projects: same words, other facts."""
    rng = random.Random(seed)
    passages = []
    for index in range(count):
        project = f"{rng.choice(_NAMES)} {rng.choice(_NOUNS)} {index}"
        facts = rng.choice(_TOPICS).format(
            rooms=rng.randint(1, 4),
            price=rng.randint(150, 900),
            area=rng.randint(40, 160),
            month=rng.choice(_MONTHS),
            year=rng.randint(2026, 2029),
            floor=rng.randint(2, 30),
            admin=rng.randint(200, 900),
            stratum=rng.randint(2, 6),
            hours=rng.choice([12, 24]),
            sep=rng.randint(2, 10),
            pct=rng.choice([20, 30, 40]),
            months=rng.randint(12, 36),
            open=rng.randint(8, 10),
            close=rng.randint(16, 19),
        )
        passages.append(f"{project} – {rng.choice(_CITIES)}\n{facts}")
    return passages
